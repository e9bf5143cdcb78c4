//! Application private tokens (SPEC §7, seed 003): a key/value store private to each
//! integration. An entry is `(relatedId, key) → value`; both names may hold any character
//! (dots, slashes, Unicode) — unlike the seed's store, nothing here gives them meaning.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::crypto::{DecryptError, MasterKey};
use crate::error::DomainError;
use crate::id::ClientId;
use crate::page::{bad_page_token, decode_page_token, encode_page_token};
use crate::world::Rng;

use super::UnixMillis;

/// The longest `relatedId` and `key`, in bytes of UTF-8.
pub const MAX_NAME_BYTES: usize = 512;
/// The default largest value: 16 MiB, as in the seed. Deployments may configure another.
pub const DEFAULT_MAX_VALUE_BYTES: usize = 16 * 1024 * 1024;

/// Values longer than this are kept in parts of at most this many bytes, written before the
/// entry that refers to them (by its ETag). A large value then moves between the socket and
/// the database a part at a time: no layer holds all of it, and a write never holds the
/// database's write lock while the client is still sending.
pub const VALUE_PART_BYTES: usize = 1024 * 1024;

/// Where an entry lives: the integration's store, the entity it describes, the field.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntryName {
    /// The `relatedId` the entry belongs to (a customer, a device, …).
    pub related_id: String,
    /// The entry's key within its `relatedId`.
    pub key: String,
}

/// An entry as listed: everything but the value, whose size is given instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateTokenInfo {
    /// The integration whose store holds it.
    pub client_id: ClientId,
    /// Its `relatedId` and key.
    pub name: EntryName,
    /// Bytes of the value, as UTF-8.
    pub size: u64,
    /// Changes with every write; compare it with `If-Match`.
    pub etag: String,
    /// When it was first written.
    pub created_at: UnixMillis,
    /// When it was last written.
    pub updated_at: UnixMillis,
    /// Whether the stored value (and each of its parts) is sealed with the master key (see
    /// [`seal_value`]). Values written before sealing existed are plain until the first start
    /// after the upgrade seals them.
    pub sealed: bool,
}

impl PrivateTokenInfo {
    /// Whether the value is kept in parts under the entry's ETag (see [`VALUE_PART_BYTES`]);
    /// otherwise it is stored with the entry.
    pub fn in_parts(&self) -> bool {
        self.size > VALUE_PART_BYTES as u64
    }
}

/// How many bytes of `text` its next part takes: at most [`VALUE_PART_BYTES`], ending on a
/// character boundary so that every part is UTF-8 text of its own.
pub fn next_part_len(text: &str) -> usize {
    let mut cut = VALUE_PART_BYTES.min(text.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    cut
}

/// [`next_part_len`] for bytes still arriving, longer than one part: `None` when they are not
/// UTF-8. A character cut by the end of the window is left for the next part.
pub fn next_part_len_of_bytes(bytes: &[u8]) -> Option<usize> {
    let window = &bytes[..VALUE_PART_BYTES.min(bytes.len())];
    match std::str::from_utf8(window) {
        Ok(_) => Some(window.len()),
        Err(e) if e.error_len().is_none() && window.len() < bytes.len() && e.valid_up_to() > 0 => {
            Some(e.valid_up_to())
        }
        Err(_) => None,
    }
}

/// An entry with its value (empty when the value is [in parts](PrivateTokenInfo::in_parts)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateToken {
    /// Everything but the value.
    pub info: PrivateTokenInfo,
    /// The value, in the form the store keeps (sealed or, before the upgrade, plain).
    pub value: String,
}

/// What a write requires of the entry already stored (RFC 9110 §13.1.1 `If-Match`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteCondition {
    /// Create or replace, whatever is there.
    Always,
    /// Only if the entry exists (`If-Match: *`).
    Exists,
    /// Only if the entry exists with this ETag.
    Matches(String),
}

/// A listing: all of an integration's entries, or those of one `relatedId`, or those whose
/// `relatedId` starts with a prefix; optionally only one `key`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EntryFilter {
    /// Only this `relatedId`.
    pub related_id: Option<String>,
    /// Only `relatedId`s that start with this.
    pub related_id_prefix: Option<String>,
    /// Only this key.
    pub key: Option<String>,
}

/// Checks `relatedId` or `key` (named `field` in errors).
pub fn validate_entry_name(field: &'static str, value: &str) -> Result<(), DomainError> {
    if value.is_empty() {
        return Err(DomainError::invalid(field, "must not be empty"));
    }
    if value.len() > MAX_NAME_BYTES {
        return Err(DomainError::invalid(
            field,
            format!("is longer than {MAX_NAME_BYTES} bytes of UTF-8"),
        ));
    }
    if value.contains('\0') {
        return Err(DomainError::invalid(
            field,
            "must not contain NUL characters",
        ));
    }
    Ok(())
}

impl EntryName {
    /// The name `related_id`/`key`, refused (naming the field) when either is empty or too long.
    pub fn new(related_id: &str, key: &str) -> Result<Self, DomainError> {
        validate_entry_name("relatedId", related_id)?;
        validate_entry_name("key", key)?;
        Ok(EntryName {
            related_id: related_id.to_owned(),
            key: key.to_owned(),
        })
    }

    /// The opaque `page_token` that continues a listing after this entry.
    pub fn page_token(&self) -> String {
        let json = serde_json::json!([self.related_id, self.key]).to_string();
        encode_page_token("e1", &json)
    }

    /// Reads a `page_token` made by [`EntryName::page_token`].
    pub fn from_page_token(token: &str) -> Result<EntryName, DomainError> {
        let json = decode_page_token("e1", token)?;
        let (related_id, key): (String, String) =
            serde_json::from_str(&json).map_err(|_| bad_page_token())?;
        Ok(EntryName { related_id, key })
    }
}

impl EntryFilter {
    /// Checks the filter's names; `relatedId` and `relatedId_prefix` exclude each other.
    pub fn validate(&self) -> Result<(), DomainError> {
        if self.related_id.is_some() && self.related_id_prefix.is_some() {
            return Err(DomainError::invalid(
                "relatedId_prefix",
                "cannot be combined with `relatedId`; give one of them",
            ));
        }
        if let Some(id) = &self.related_id {
            validate_entry_name("relatedId", id)?;
        }
        if let Some(prefix) = &self.related_id_prefix {
            validate_entry_name("relatedId_prefix", prefix)?;
        }
        if let Some(key) = &self.key {
            validate_entry_name("key", key)?;
        }
        Ok(())
    }
}

/// The smallest string greater than every string that starts with `prefix`, so that a prefix
/// becomes the index range `[prefix, successor)` in code-point (= UTF-8 byte) order. `None`
/// when there is none (a prefix of only U+10FFFF): the range is then open-ended.
pub fn prefix_successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let mut next = u32::from(last) + 1;
        // Skip the surrogate gap, which `char` cannot hold.
        if (0xD800..=0xDFFF).contains(&next) {
            next = 0xE000;
        }
        if let Some(c) = char::from_u32(next) {
            chars.push(c);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// A fresh ETag: random, so one never repeats after a delete and a create.
pub fn new_etag(rng: &dyn crate::world::Rng) -> String {
    crate::crypto::random_token(rng, 12)
}

/// The purpose label of a sealed value, first in its associated data.
const VALUE_PURPOSE: &str = "tessera/private-token-value/v1";
/// Ends every sealed part, so that the parts of a value joined in order (as the store's
/// listing does) can be cut apart again; base64url never contains it.
const PART_END: char = '.';

/// Where a piece of a value belongs: the whole value stored with the entry, or one part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValuePiece {
    /// The whole value, stored with the entry.
    Whole,
    /// The part at this place (from 0) of a value stored in parts.
    Part(u32),
}

/// What a sealed piece is bound to: the purpose, the integration, the version (ETag) and the
/// piece's place. A sealed value copied into another integration's row, another version or
/// another part's place does not open.
fn value_aad(client: ClientId, etag: &str, piece: ValuePiece) -> String {
    match piece {
        ValuePiece::Whole => format!("{VALUE_PURPOSE}\0{client}\0{etag}\0whole"),
        ValuePiece::Part(n) => format!("{VALUE_PURPOSE}\0{client}\0{etag}\0part {n}"),
    }
}

/// A piece of a value as it is stored (SPEC §11): AES-256-GCM under the master key, base64url;
/// a part also ends with [`PART_END`].
pub fn seal_value(
    key: &MasterKey,
    rng: &dyn Rng,
    client: ClientId,
    etag: &str,
    piece: ValuePiece,
    text: &str,
) -> String {
    let sealed = key.encrypt(rng, &value_aad(client, etag, piece), text.as_bytes());
    let mut out = URL_SAFE_NO_PAD.encode(sealed);
    if let ValuePiece::Part(_) = piece {
        out.push(PART_END);
    }
    out
}

/// The text of a piece sealed by [`seal_value`].
pub fn open_value(
    key: &MasterKey,
    client: ClientId,
    etag: &str,
    piece: ValuePiece,
    stored: &str,
) -> Result<String, DecryptError> {
    let body = match piece {
        ValuePiece::Whole => stored,
        ValuePiece::Part(_) => stored.strip_suffix(PART_END).ok_or(DecryptError)?,
    };
    let sealed = URL_SAFE_NO_PAD.decode(body).map_err(|_| DecryptError)?;
    let plain = key.decrypt_owned(&value_aad(client, etag, piece), sealed)?;
    String::from_utf8(plain).map_err(|_| DecryptError)
}

/// The text of a value as the store gives it: one stored piece, or all of its parts joined in
/// order. `DecryptError` when a piece does not open, is missing or is out of place.
pub fn open_stored_value(
    key: &MasterKey,
    info: &PrivateTokenInfo,
    stored: &str,
) -> Result<String, DecryptError> {
    if !info.sealed {
        return Ok(stored.to_owned());
    }
    let (client, etag) = (info.client_id, info.etag.as_str());
    if !info.in_parts() {
        return open_value(key, client, etag, ValuePiece::Whole, stored);
    }
    let mut text = String::with_capacity(usize::try_from(info.size).unwrap_or_default());
    let mut rest = stored;
    let mut n = 0;
    while !rest.is_empty() {
        let end = rest.find(PART_END).ok_or(DecryptError)? + PART_END.len_utf8();
        let (part, tail) = rest.split_at(end);
        text += &open_value(key, client, etag, ValuePiece::Part(n), part)?;
        rest = tail;
        n += 1;
    }
    if text.len() as u64 != info.size {
        return Err(DecryptError);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::OsRng;

    #[test]
    fn parts_end_on_character_boundaries() {
        let text = "é".repeat(VALUE_PART_BYTES); // 2 bytes each
        assert_eq!(next_part_len(&text), VALUE_PART_BYTES);
        let odd = format!("a{text}");
        assert_eq!(next_part_len(&odd), VALUE_PART_BYTES - 1);
        assert!(odd.is_char_boundary(next_part_len(&odd)));
        assert_eq!(next_part_len("short"), 5);

        assert_eq!(
            next_part_len_of_bytes(odd.as_bytes()),
            Some(VALUE_PART_BYTES - 1)
        );
        assert_eq!(
            next_part_len_of_bytes(text.as_bytes()),
            Some(VALUE_PART_BYTES)
        );
        let mut broken = text.into_bytes();
        broken[10] = 0xFF;
        assert_eq!(next_part_len_of_bytes(&broken), None);
    }

    #[test]
    fn names_take_any_character_within_limits() {
        for ok in ["a.b.c", "x/y%2F", "ürün 🚚", "$where", " "] {
            EntryName::new(ok, ok).unwrap();
        }
        let e = EntryName::new("", "k").unwrap_err();
        assert_eq!(e.field(), Some("relatedId"));
        let e = EntryName::new("r", &"k".repeat(MAX_NAME_BYTES + 1)).unwrap_err();
        assert_eq!(e.field(), Some("key"));
        assert!(e.to_string().contains("512"), "{e}");
        let e = EntryName::new("r\0", "k").unwrap_err();
        assert_eq!(e.field(), Some("relatedId"));
    }

    #[test]
    fn page_tokens_round_trip_and_garbage_names_the_field() {
        let name = EntryName::new("project.1/ü", "key \"quoted\"").unwrap();
        assert_eq!(
            EntryName::from_page_token(&name.page_token()).unwrap(),
            name
        );
        for bad in ["", "garbage!", "ZTE6WzFd"] {
            let e = EntryName::from_page_token(bad).unwrap_err();
            assert_eq!(e.field(), Some("page_token"));
        }
    }

    #[test]
    fn prefix_ranges_hold_exactly_the_strings_with_the_prefix() {
        assert_eq!(prefix_successor("abc").as_deref(), Some("abd"));
        assert_eq!(prefix_successor("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_successor("\u{D7FF}").as_deref(), Some("\u{E000}"));
        assert_eq!(prefix_successor("\u{10FFFF}"), None);
        let upper = prefix_successor("proj.").unwrap();
        for inside in ["proj.", "proj.1", "proj.\u{10FFFF}x"] {
            assert!(inside >= "proj." && inside < upper.as_str(), "{inside}");
        }
        for outside in ["proj", "proj/", "proi.9"] {
            assert!(
                !(outside >= "proj." && outside < upper.as_str()),
                "{outside}"
            );
        }
    }

    #[test]
    fn filters_refuse_two_ways_of_naming_the_entity() {
        let both = EntryFilter {
            related_id: Some("a".into()),
            related_id_prefix: Some("a".into()),
            key: None,
        };
        assert_eq!(
            both.validate().unwrap_err().field(),
            Some("relatedId_prefix")
        );
    }

    fn sealed_info(size: usize) -> PrivateTokenInfo {
        PrivateTokenInfo {
            client_id: ClientId::from_uuid(uuid::Uuid::from_bytes([7; 16])),
            name: EntryName {
                related_id: "r".into(),
                key: "k".into(),
            },
            size: size as u64,
            etag: "e1".into(),
            created_at: 0,
            updated_at: 0,
            sealed: true,
        }
    }

    #[test]
    fn sealed_values_open_only_in_their_place() {
        let (key, _) = MasterKey::generate(&OsRng);
        let rng = OsRng;
        let info = sealed_info(5);
        let c = info.client_id;
        let whole = seal_value(&key, &rng, c, "e1", ValuePiece::Whole, "héllo");
        assert!(!whole.contains("héllo"));
        assert_eq!(open_stored_value(&key, &info, &whole).unwrap(), "héllo");
        // Another version, another integration, a part's place, another key: refused.
        assert!(open_value(&key, c, "e2", ValuePiece::Whole, &whole).is_err());
        let other = ClientId::from_uuid(uuid::Uuid::from_bytes([8; 16]));
        assert!(open_value(&key, other, "e1", ValuePiece::Whole, &whole).is_err());
        assert!(open_value(&key, c, "e1", ValuePiece::Part(0), &format!("{whole}.")).is_err());
        let (other_key, _) = MasterKey::generate(&OsRng);
        assert!(open_stored_value(&other_key, &info, &whole).is_err());
        // A plain value (stored before sealing) reads as it is.
        let plain = PrivateTokenInfo {
            sealed: false,
            ..info
        };
        assert_eq!(open_stored_value(&key, &plain, "as is").unwrap(), "as is");
    }

    #[test]
    fn parts_join_and_open_in_order_only() {
        let (key, _) = MasterKey::generate(&OsRng);
        let rng = OsRng;
        let text = "x".repeat(VALUE_PART_BYTES) + "tail";
        let info = sealed_info(text.len());
        let c = info.client_id;
        let p0 = seal_value(
            &key,
            &rng,
            c,
            "e1",
            ValuePiece::Part(0),
            &text[..VALUE_PART_BYTES],
        );
        let p1 = seal_value(&key, &rng, c, "e1", ValuePiece::Part(1), "tail");
        assert_eq!(
            open_stored_value(&key, &info, &format!("{p0}{p1}")).unwrap(),
            text
        );
        // Swapped, cut short or cut inside a part: refused.
        assert!(open_stored_value(&key, &info, &format!("{p1}{p0}")).is_err());
        assert!(open_stored_value(&key, &info, &p0).is_err());
        assert!(open_stored_value(&key, &info, &format!("{p0}{}", &p1[..10])).is_err());
    }
}
