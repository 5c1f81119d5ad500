//! The reconciliation core: pure functions, no I/O (the quinn-proto way). Given a Humaans person,
//! their job roles, the company name, the manager, the current SCIM account, what we last wrote,
//! the settings and the time, it decides the SCIM operations. The shell (`app/`) fetches the
//! inputs, carries the operations out and records the outcome.

pub mod brake;
pub mod mapping;
pub mod model;
pub mod packed;
pub mod plan;
pub mod remote;
pub mod render;
pub mod retry;
pub mod scope;
pub mod teams;
pub mod timing;

pub use model::{
    Attr, DeprovisionAction, DeprovisionLimit, Dialect, ExtraField, JobRole, JobRoleField, JobRoleFields, Person,
    PersonField, PersonFields, Profile, ProvisionTiming, Settings,
};
pub use plan::{Decision, Inputs, Link, ManagerInput, Mode, Op, decide, deprovision_limit};
pub use remote::RemoteUser;
