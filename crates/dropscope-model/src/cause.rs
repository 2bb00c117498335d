//! [`Cause`]: the root-cause taxonomy, whose names are the label vocabulary.

use std::fmt;

/// Why a device disconnected or failed to connect. The names returned by [`Cause::as_str`] are
/// exact and lower-case: `labels.csv` and `predictions.csv` use them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cause {
    /// SAS token (or certificate) lifetime ended; the SDK's renewal cycle.
    TokenExpiry,
    /// Credentials rejected and the device cannot get back.
    AuthFailure,
    /// One device went silent and the hub's idle timer fired.
    KeepaliveTimeout,
    /// A shared network path (site, ISP, cell) failed.
    NetworkOutage,
    /// A transient hub-side fault.
    ServerError,
    /// A planned service or platform reconfiguration.
    ServiceUpgrade,
    /// The connect rate went over the hub's limit during a reconnect storm.
    Throttling,
    /// Two clients share one device identity.
    DuplicateIdentity,
    /// A one-off conflict: the device reconnected before the hub saw the old link drop.
    ReconnectRace,
    /// The device closed the connection cleanly.
    ClientClose,
    /// Not enough evidence.
    Unknown,
}

impl Cause {
    /// Every cause, in taxonomy order.
    pub const ALL: [Cause; 11] = [
        Cause::TokenExpiry,
        Cause::AuthFailure,
        Cause::KeepaliveTimeout,
        Cause::NetworkOutage,
        Cause::ServerError,
        Cause::ServiceUpgrade,
        Cause::Throttling,
        Cause::DuplicateIdentity,
        Cause::ReconnectRace,
        Cause::ClientClose,
        Cause::Unknown,
    ];

    /// The exact label name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Cause::TokenExpiry => "token_expiry",
            Cause::AuthFailure => "auth_failure",
            Cause::KeepaliveTimeout => "keepalive_timeout",
            Cause::NetworkOutage => "network_outage",
            Cause::ServerError => "server_error",
            Cause::ServiceUpgrade => "service_upgrade",
            Cause::Throttling => "throttling",
            Cause::DuplicateIdentity => "duplicate_identity",
            Cause::ReconnectRace => "reconnect_race",
            Cause::ClientClose => "client_close",
            Cause::Unknown => "unknown",
        }
    }

    /// Parses an exact label name.
    pub fn parse(text: &str) -> Option<Cause> {
        Cause::ALL.into_iter().find(|cause| cause.as_str() == text)
    }

    /// Whether the cause is benign churn that should page nobody.
    pub const fn is_benign(self) -> bool {
        matches!(self, Cause::TokenExpiry | Cause::ClientClose | Cause::ServiceUpgrade)
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for cause in Cause::ALL {
            assert_eq!(Cause::parse(cause.as_str()), Some(cause));
        }
        assert_eq!(Cause::parse("Token_Expiry"), None);
    }
}
