//! Mock Leapsome SCIM API (being written).
