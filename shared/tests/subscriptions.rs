//! Each subscription is declared once, in its function's `FUNCTION`; the shipped Dapr
//! resources are generated from it and must not drift.

#[test]
fn components_subscriptions_yaml_is_what_the_code_declares() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../components/subscriptions.yaml"
    );
    let shipped = std::fs::read_to_string(path).expect("components/subscriptions.yaml");
    assert!(
        shipped == shared::handlers::subscriptions_yaml(),
        "components/subscriptions.yaml differs from the functions' declarations; regenerate it:\n\
         cargo run -p todo-local -- subscriptions > components/subscriptions.yaml"
    );
}

#[test]
fn every_subscription_dead_letters_to_its_topics_dlq() {
    for (app, s) in shared::handlers::subscriptions() {
        assert_eq!(s.dead_letter_topic(), format!("{}-dlq", s.topic), "{app}");
        assert!(s.route.starts_with("/events/"), "{app}: {}", s.route);
    }
}
