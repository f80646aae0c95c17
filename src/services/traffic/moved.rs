//! What a traffic move did, as data: the record is built from it, and `Display` is the line
//! `traffic` prints and the notice carries.

use std::fmt;

/// What carries the split, for the words: Lambda versions, or ECS revisions of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Carrier {
    Lambda,
    /// The service; its variant runs as `<service>-variant`.
    Ecs {
        service: String,
    },
}

/// One move of a split. Sides are Lambda versions (`7`) or ECS task definition ARNs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Moved {
    Set {
        carrier: Carrier,
        variant: String,
        percent: u32,
        control: String,
    },
    /// The variant took all the traffic; `retired` was the control.
    Promoted {
        carrier: Carrier,
        variant: String,
        retired: String,
    },
    /// All traffic back on the control; `variant` is the one removed, if one ran.
    Aborted {
        carrier: Carrier,
        variant: Option<String>,
        control: String,
    },
}

impl Moved {
    /// What runs the control after the move.
    pub fn control(&self) -> &str {
        match self {
            Self::Set { control, .. } | Self::Aborted { control, .. } => control,
            Self::Promoted { variant, .. } => variant,
        }
    }
}

/// `family:revision` of an ARN, a Lambda version as it is.
fn short(side: &str) -> &str {
    crate::services::ecs::short(side)
}

impl fmt::Display for Moved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Set {
                carrier: Carrier::Lambda,
                variant,
                percent,
                control,
            } => write!(
                f,
                "{percent}% on variant version {variant}, {}% on control version {control}",
                100 - percent
            ),
            Self::Set {
                carrier: Carrier::Ecs { service },
                variant,
                percent,
                control,
            } => write!(
                f,
                "{percent}% on variant {} ({service}-variant), {}% on control {}",
                short(variant),
                100 - percent,
                short(control)
            ),
            Self::Promoted {
                carrier: Carrier::Lambda,
                variant,
                retired,
            } => write!(
                f,
                "version {variant} promoted: 100% (was the variant; version {retired} retired)"
            ),
            Self::Promoted {
                carrier: Carrier::Ecs { service },
                variant,
                retired,
            } => write!(
                f,
                "{} promoted: 100% on {service} (was {}); the variant stopped",
                short(variant),
                short(retired)
            ),
            Self::Aborted {
                carrier: Carrier::Lambda,
                variant: Some(v),
                control,
            } => write!(
                f,
                "variant version {v} removed: 100% on control version {control}"
            ),
            Self::Aborted {
                carrier: Carrier::Lambda,
                variant: None,
                control,
            } => write!(f, "no variant was running: 100% on version {control}"),
            Self::Aborted {
                carrier: Carrier::Ecs { .. },
                variant: Some(v),
                control,
            } => write!(
                f,
                "variant {} stopped: 100% on control {}",
                short(v),
                short(control)
            ),
            Self::Aborted {
                carrier: Carrier::Ecs { .. },
                variant: None,
                control,
            } => write!(f, "no variant was running: 100% on {}", short(control)),
        }
    }
}
