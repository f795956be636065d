//! The short code of a strap: what the console shows next to it and what a participant types in
//! `claim_strap {strapCode}` to take over its participant.
//!
//! Four characters from an alphabet without look-alikes (no 0/O/D/Q, 1/I/L, 2/Z, 5/S, 6/G is
//! kept as 6, 8/B, U/V), derived from the strap's id alone, so a strap keeps its code across hub
//! restarts, reconnections and laptops. 20⁴ = 160 000 codes: the chance that two of 20 straps in
//! one room share a code is about 0.12 %; the hub should refuse an ambiguous claim rather than
//! guess.

/// The alphabet of codes: digits and capitals that read unambiguously on a projector, on a
/// phone and in handwriting.
pub const CODE_ALPHABET: &[u8; 20] = b"34679ACEFHJKMNPRTWXY";

/// The number of characters in a code.
pub const CODE_LENGTH: usize = 4;

/// The strap code for a strap id (e.g. its Bluetooth address `"A0:9E:1A:12:34:56"`).
///
/// FNV-1a over the id's bytes: a hash fixed by its definition, so the code of a strap never
/// changes with the Rust version or the platform (std's hasher gives no such promise).
pub fn strap_code(strap_id: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in strap_id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let base = CODE_ALPHABET.len() as u64;
    (0..CODE_LENGTH)
        .map(|_| {
            let symbol = CODE_ALPHABET[(hash % base) as usize];
            hash /= base;
            char::from(symbol)
        })
        .collect()
}

/// A code as a participant typed it, made comparable with [`strap_code`]'s output: upper case,
/// without the spaces and dashes people put between characters.
pub fn normalize_code(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_four_characters_of_the_alphabet() {
        for id in ["A0:9E:1A:12:34:56", "", "hci0/dev_A0_9E_1A_12_34_56", "x"] {
            let code = strap_code(id);
            assert_eq!(code.len(), CODE_LENGTH, "{id:?} → {code:?}");
            assert!(
                code.bytes().all(|b| CODE_ALPHABET.contains(&b)),
                "{id:?} → {code:?}"
            );
        }
    }

    #[test]
    fn the_code_is_fixed_by_the_id() {
        // Pinned values: a change here changes every strap's code in every room.
        assert_eq!(
            strap_code("A0:9E:1A:12:34:56"),
            strap_code("A0:9E:1A:12:34:56")
        );
        assert_eq!(strap_code("A0:9E:1A:12:34:56"), "EEYE");
        assert_eq!(strap_code("A0:9E:1A:12:34:57"), "TTFP");
    }

    #[test]
    fn close_ids_get_different_codes() {
        let codes: std::collections::BTreeSet<String> = (0..=255)
            .map(|last| strap_code(&format!("A0:9E:1A:12:34:{last:02X}")))
            .collect();
        // 256 ids in 160 000 codes: a handful of collisions at most.
        assert!(codes.len() >= 250, "{}", codes.len());
    }

    #[test]
    fn typed_codes_are_normalized() {
        assert_eq!(normalize_code(" ee-y e "), "EEYE");
    }
}
