//! The sandbox's test cards are what the gateway accepts as card numbers.

#[test]
fn every_sandbox_test_card_passes_the_gateways_card_number_checks() {
    for card in sandbox::TEST_CARDS {
        assert!(
            gateway::domain::luhn_valid(card.number),
            "{} fails Luhn",
            card.number
        );
        assert_eq!(
            gateway::domain::card_network(card.number),
            Some(card.network),
            "{} is not recognised as {}",
            card.number,
            card.network
        );
    }
}
