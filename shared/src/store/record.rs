//! How a kind of record is declared: one struct whose fields are its stored attributes,
//! and a module of their names generated from the fields. Renaming a stored attribute is
//! renaming its field — one line — and the compiler then follows every use of the field
//! and of its name; an attribute every kind shares (`crate::store::attr`) is checked
//! against the one declaration at compile time.

/// Declares a stored record: the struct (its fields are stored under their own names,
/// or the name given with `as "name"` where the field's cannot be one: `type`) and
/// `mod $attrs` with one constant per field, holding its stored name.
macro_rules! stored_record {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident, attributes in $attrs:ident {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty => $constant:ident $(as $stored:literal)?, )*
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $( $(#[$fmeta])* $(#[serde(rename = $stored)])? pub $field: $ty, )*
        }

        /// The stored attribute names of the record: each its field's name.
        #[allow(dead_code)]
        $vis mod $attrs {
            $( pub const $constant: &str = $crate::store::record::stored_name!($field $(, $stored)?); )*
        }
    };
}
pub(crate) use stored_record;

/// A field's stored name: its own, or the one given.
macro_rules! stored_name {
    ($field:ident) => {
        stringify!($field)
    };
    ($field:ident, $stored:literal) => {
        $stored
    };
}
pub(crate) use stored_name;
/// Checks at compile time that a record's attribute is the one the whole table shares
/// (`the_same!(attr::TENANT_ID => crate::store::attr::TENANT_ID)`).
macro_rules! the_same {
    ($($ours:path => $shared:expr),* $(,)?) => {
        $(const _: () = assert!(
            $crate::store::record::same_name($ours, $shared),
            concat!(stringify!($ours), " must be named as ", stringify!($shared))
        );)*
    };
}
pub(crate) use the_same;

/// String equality a constant can use.
pub(crate) const fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}
