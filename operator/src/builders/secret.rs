//! The auth Secret the operator generates when the spec names none.

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::ByteString;

use super::{labels, names, owned_meta};
use crate::constants::PASSWORD_KEY;
use crate::reconcile::validate::{Auth, Validated};

/// `<name>-auth` with key `password`, or nothing when auth is off or the user
/// brings the Secret (the operator never writes a user's Secret).
pub fn build(v: &Validated) -> Option<Secret> {
    let Auth::Secret {
        generated: Some(password),
        ..
    } = &v.auth
    else {
        return None;
    };
    Some(Secret {
        metadata: owned_meta(v, names::auth_secret(&v.name), labels::common(&v.name)),
        type_: Some("Opaque".into()),
        // `data`, not `stringData`: stringData is write-only and would make every
        // server-side apply look like a change.
        data: Some(
            [(
                PASSWORD_KEY.to_string(),
                ByteString(password.as_bytes().to_vec()),
            )]
            .into(),
        ),
        ..Secret::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builders::fixtures::{secret, validated, validated_with, PASSWORD};

    #[test]
    fn generated_secret_holds_the_password_and_is_owned() {
        let v = validated("");
        let s = build(&v).expect("auth on by default generates a Secret");
        assert_eq!(s.metadata.name.as_deref(), Some("demo-auth"));
        let data = s.data.expect("data");
        assert_eq!(
            data.get("password").map(|b| b.0.as_slice()),
            Some(PASSWORD.as_bytes())
        );
        let owner = &s.metadata.owner_references.expect("owned")[0];
        assert_eq!(owner.kind, "CacheCluster");
        assert_eq!(owner.controller, Some(true));
    }

    #[test]
    fn existing_generated_password_is_kept() {
        let v = validated_with("", vec![secret("demo-auth", &[("password", "old-one")])]);
        let s = build(&v).expect("secret");
        let data = s.data.expect("data");
        assert_eq!(
            data.get("password").map(|b| b.0.as_slice()),
            Some(&b"old-one"[..])
        );
    }

    #[test]
    fn no_secret_for_user_secret_or_disabled_auth() {
        let user = validated_with(
            "auth: {passwordSecret: {name: mine}}",
            vec![secret("mine", &[("password", "x")])],
        );
        assert!(build(&user).is_none());
        assert!(build(&validated("auth: {enabled: false}")).is_none());
    }
}
