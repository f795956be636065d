//! The short code of a strap: what the console shows next to it and what a participant types in
//! `claim_strap {strapCode}` to take over its participant.
//!
//! Four characters from an alphabet without look-alikes (no 0/O/D/Q, 1/I/L, 2/Z, 5/S, 6/G is
//! kept as 6, 8/B, U/V): 20⁴ = 160 000 codes.
//!
//! Two derivations:
//! - [`keyed_strap_code`], what the hub shows and accepts: HMAC-SHA256 of the strap's id under
//!   a key only the hub has, so someone who scans the strap's Bluetooth address cannot compute
//!   its code (and watch a stranger's heart data). A strap keeps its code across restarts of
//!   the same hub; an `attempt` counter gives another code when two straps of one room would
//!   share one (the hub keeps codes unique per room).
//! - [`strap_code`], from the id alone (FNV-1a), for tools without a hub's key (`synchub-ble-
//!   probe`, logs): it is public, so the hub never accepts it.

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
    code_of_hash(hash)
}

/// The code the hub shows for `strap_id`: the first characters of HMAC-SHA256(`key`,
/// `strap_id` ‖ 0 ‖ `attempt`). Use attempt 0, and 1, 2, … when the code is already taken in
/// the room.
pub fn keyed_strap_code(key: &[u8; 32], strap_id: &str, attempt: u32) -> String {
    use hmac::{Hmac, Mac as _};
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(strap_id.as_bytes());
    mac.update(&[0]);
    mac.update(&attempt.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let mut first = [0_u8; 8];
    first.copy_from_slice(&digest[..8]);
    code_of_hash(u64::from_be_bytes(first))
}

/// [`CODE_LENGTH`] symbols of the alphabet from a 64-bit hash (its base-20 digits; the bias of
/// 2⁶⁴ mod 20⁴ is negligible).
fn code_of_hash(mut hash: u64) -> String {
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
    fn keyed_codes_depend_on_the_key_and_the_attempt_not_only_on_the_id() {
        let id = "A0:9E:1A:12:34:56";
        let code = keyed_strap_code(&[7; 32], id, 0);
        assert_eq!(code.len(), CODE_LENGTH);
        assert!(code.bytes().all(|b| CODE_ALPHABET.contains(&b)));
        assert_eq!(
            keyed_strap_code(&[7; 32], id, 0),
            code,
            "stable for one key"
        );
        let other_keys: std::collections::BTreeSet<String> = (0..20_u8)
            .map(|key| keyed_strap_code(&[key; 32], id, 0))
            .collect();
        assert!(
            other_keys.len() >= 18,
            "the key decides the code: {other_keys:?}"
        );
        assert_ne!(keyed_strap_code(&[7; 32], id, 1), code);
    }

    #[test]
    fn typed_codes_are_normalized() {
        assert_eq!(normalize_code(" ee-y e "), "EEYE");
    }
}
