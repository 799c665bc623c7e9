//! The identifiers a 3DS 2 authentication carries, as the seed names them: the ACS's,
//! the 3DS server's (`tree_dss_server_transaction_id`) and the directory server's
//! transaction ids, and the ACS reference number.

/// SHA-256 of `purpose` and `seed`, hex.
pub fn derived(purpose: &str, seed: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{purpose}:{seed}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// One authentication's transaction ids (UUIDs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ids {
    pub acs_transaction_id: String,
    pub three_ds_server_transaction_id: String,
    pub directory_server_transaction_id: String,
}

impl Ids {
    /// The ACS reference number: the one Cardinal's sandbox ACS reports.
    pub const ACS_REFERENCE_NUMBER: &str = "Cardinal ACS";

    pub fn random() -> Self {
        Self {
            acs_transaction_id: uuid::Uuid::new_v4().to_string(),
            three_ds_server_transaction_id: uuid::Uuid::new_v4().to_string(),
            directory_server_transaction_id: uuid::Uuid::new_v4().to_string(),
        }
    }

    /// The same ids for the same reference code (reproducible runs).
    pub fn derived_from(reference_code: &str) -> Self {
        let id = |purpose: &str| {
            let h = derived(purpose, reference_code);
            format!(
                "{}-{}-4{}-8{}-{}",
                &h[..8],
                &h[8..12],
                &h[13..16],
                &h[17..20],
                &h[20..32]
            )
        };
        Self {
            acs_transaction_id: id("acs_transaction_id"),
            three_ds_server_transaction_id: id("three_ds_server_transaction_id"),
            directory_server_transaction_id: id("directory_server_transaction_id"),
        }
    }
}
