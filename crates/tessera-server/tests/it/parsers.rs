//! The OAuth form parser, driven by generated input: it never panics, reads back what a form
//! encoder writes, and refuses a repeated parameter whatever its spelling.

use std::collections::BTreeMap;

use proptest::prelude::*;
use tessera_server::extract::OAuthForm;

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_body_is_read_or_refused_without_a_panic(body in any::<Vec<u8>>()) {
        let _ = OAuthForm::parse(&body);
    }

    #[test]
    fn what_a_form_encoder_writes_reads_back(params in prop::collection::btree_map("[a-z_]{1,12}", any::<String>(), 0..8)) {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params.iter())
            .finish();
        let form = OAuthForm::parse(body.as_bytes()).unwrap();
        let expected: BTreeMap<_, _> = params.iter().filter(|(_, v)| !v.is_empty()).collect();
        for (name, value) in &expected {
            prop_assert_eq!(form.get(name), Some(value.as_str()));
        }
    }

    #[test]
    fn a_repeated_parameter_is_refused_however_it_is_spelled(name in "[a-z]{1,8}", a in any::<String>(), b in any::<String>()) {
        let encoded: String = name.bytes().map(|c| format!("%{c:02X}")).collect();
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair(&name, &a)
            .finish()
            + "&"
            + &encoded
            + "="
            + &form_urlencoded::byte_serialize(b.as_bytes()).collect::<String>();
        prop_assert!(OAuthForm::parse(body.as_bytes()).is_err());
    }
}
