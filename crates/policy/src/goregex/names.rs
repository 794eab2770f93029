//! The names Go's `\p{…}` accepts (Go 1.25 and later: Unicode 15.0 tables,
//! names matched ignoring case, spaces, `_` and `-`), and the `regex`
//! crate's spelling of each.

/// Go's general categories. `C` is special: Go's table holds only assigned
/// code points (Cc, Cf, Co, Cs), while Unicode's `C` (and the crate's) also
/// holds the unassigned ones, so it is spelt out. Surrogates (`Cs`) never
/// occur in a string Go matches (they decode as U+FFFD), and the crate
/// cannot name them: `Cs` is the empty set.
const CATEGORIES: &[(&str, &[&str])] = &[
    ("C", &["Cc", "Cf", "Co"]),
    ("Cc", &["Cc"]),
    ("Cf", &["Cf"]),
    ("Cn", &["Cn"]),
    ("Co", &["Co"]),
    ("Cs", &[]),
    ("L", &["L"]),
    ("LC", &["LC"]),
    ("Ll", &["Ll"]),
    ("Lm", &["Lm"]),
    ("Lo", &["Lo"]),
    ("Lt", &["Lt"]),
    ("Lu", &["Lu"]),
    ("M", &["M"]),
    ("Mc", &["Mc"]),
    ("Me", &["Me"]),
    ("Mn", &["Mn"]),
    ("N", &["N"]),
    ("Nd", &["Nd"]),
    ("Nl", &["Nl"]),
    ("No", &["No"]),
    ("P", &["P"]),
    ("Pc", &["Pc"]),
    ("Pd", &["Pd"]),
    ("Pe", &["Pe"]),
    ("Pf", &["Pf"]),
    ("Pi", &["Pi"]),
    ("Po", &["Po"]),
    ("Ps", &["Ps"]),
    ("S", &["S"]),
    ("Sc", &["Sc"]),
    ("Sk", &["Sk"]),
    ("Sm", &["Sm"]),
    ("So", &["So"]),
    ("Z", &["Z"]),
    ("Zl", &["Zl"]),
    ("Zp", &["Zp"]),
    ("Zs", &["Zs"]),
];

/// Go's `unicode.CategoryAliases` (Unicode's long names for categories).
const CATEGORY_ALIASES: &[(&str, &str)] = &[
    ("Cased_Letter", "LC"),
    ("Close_Punctuation", "Pe"),
    ("Combining_Mark", "M"),
    ("Connector_Punctuation", "Pc"),
    ("Control", "Cc"),
    ("cntrl", "Cc"),
    ("Currency_Symbol", "Sc"),
    ("Dash_Punctuation", "Pd"),
    ("Decimal_Number", "Nd"),
    ("digit", "Nd"),
    ("Enclosing_Mark", "Me"),
    ("Final_Punctuation", "Pf"),
    ("Format", "Cf"),
    ("Initial_Punctuation", "Pi"),
    ("Letter", "L"),
    ("Letter_Number", "Nl"),
    ("Line_Separator", "Zl"),
    ("Lowercase_Letter", "Ll"),
    ("Mark", "M"),
    ("Math_Symbol", "Sm"),
    ("Modifier_Letter", "Lm"),
    ("Modifier_Symbol", "Sk"),
    ("Nonspacing_Mark", "Mn"),
    ("Number", "N"),
    ("Open_Punctuation", "Ps"),
    ("Other", "C"),
    ("Other_Letter", "Lo"),
    ("Other_Number", "No"),
    ("Other_Punctuation", "Po"),
    ("Other_Symbol", "So"),
    ("Paragraph_Separator", "Zp"),
    ("Private_Use", "Co"),
    ("Punctuation", "P"),
    ("punct", "P"),
    ("Separator", "Z"),
    ("Space_Separator", "Zs"),
    ("Spacing_Mark", "Mc"),
    ("Surrogate", "Cs"),
    ("Symbol", "S"),
    ("Titlecase_Letter", "Lt"),
    ("Unassigned", "Cn"),
    ("Uppercase_Letter", "Lu"),
];

/// Go's `unicode.Scripts` keys (Unicode 15.0).
pub(super) const SCRIPTS: &[&str] = &[
    "Adlam",
    "Ahom",
    "Anatolian_Hieroglyphs",
    "Arabic",
    "Armenian",
    "Avestan",
    "Balinese",
    "Bamum",
    "Bassa_Vah",
    "Batak",
    "Bengali",
    "Bhaiksuki",
    "Bopomofo",
    "Brahmi",
    "Braille",
    "Buginese",
    "Buhid",
    "Canadian_Aboriginal",
    "Carian",
    "Caucasian_Albanian",
    "Chakma",
    "Cham",
    "Cherokee",
    "Chorasmian",
    "Common",
    "Coptic",
    "Cuneiform",
    "Cypriot",
    "Cypro_Minoan",
    "Cyrillic",
    "Deseret",
    "Devanagari",
    "Dives_Akuru",
    "Dogra",
    "Duployan",
    "Egyptian_Hieroglyphs",
    "Elbasan",
    "Elymaic",
    "Ethiopic",
    "Georgian",
    "Glagolitic",
    "Gothic",
    "Grantha",
    "Greek",
    "Gujarati",
    "Gunjala_Gondi",
    "Gurmukhi",
    "Han",
    "Hangul",
    "Hanifi_Rohingya",
    "Hanunoo",
    "Hatran",
    "Hebrew",
    "Hiragana",
    "Imperial_Aramaic",
    "Inherited",
    "Inscriptional_Pahlavi",
    "Inscriptional_Parthian",
    "Javanese",
    "Kaithi",
    "Kannada",
    "Katakana",
    "Kawi",
    "Kayah_Li",
    "Kharoshthi",
    "Khitan_Small_Script",
    "Khmer",
    "Khojki",
    "Khudawadi",
    "Lao",
    "Latin",
    "Lepcha",
    "Limbu",
    "Linear_A",
    "Linear_B",
    "Lisu",
    "Lycian",
    "Lydian",
    "Mahajani",
    "Makasar",
    "Malayalam",
    "Mandaic",
    "Manichaean",
    "Marchen",
    "Masaram_Gondi",
    "Medefaidrin",
    "Meetei_Mayek",
    "Mende_Kikakui",
    "Meroitic_Cursive",
    "Meroitic_Hieroglyphs",
    "Miao",
    "Modi",
    "Mongolian",
    "Mro",
    "Multani",
    "Myanmar",
    "Nabataean",
    "Nag_Mundari",
    "Nandinagari",
    "New_Tai_Lue",
    "Newa",
    "Nko",
    "Nushu",
    "Nyiakeng_Puachue_Hmong",
    "Ogham",
    "Ol_Chiki",
    "Old_Hungarian",
    "Old_Italic",
    "Old_North_Arabian",
    "Old_Permic",
    "Old_Persian",
    "Old_Sogdian",
    "Old_South_Arabian",
    "Old_Turkic",
    "Old_Uyghur",
    "Oriya",
    "Osage",
    "Osmanya",
    "Pahawh_Hmong",
    "Palmyrene",
    "Pau_Cin_Hau",
    "Phags_Pa",
    "Phoenician",
    "Psalter_Pahlavi",
    "Rejang",
    "Runic",
    "Samaritan",
    "Saurashtra",
    "Sharada",
    "Shavian",
    "Siddham",
    "SignWriting",
    "Sinhala",
    "Sogdian",
    "Sora_Sompeng",
    "Soyombo",
    "Sundanese",
    "Syloti_Nagri",
    "Syriac",
    "Tagalog",
    "Tagbanwa",
    "Tai_Le",
    "Tai_Tham",
    "Tai_Viet",
    "Takri",
    "Tamil",
    "Tangsa",
    "Tangut",
    "Telugu",
    "Thaana",
    "Thai",
    "Tibetan",
    "Tifinagh",
    "Tirhuta",
    "Toto",
    "Ugaritic",
    "Vai",
    "Vithkuqi",
    "Wancho",
    "Warang_Citi",
    "Yezidi",
    "Yi",
    "Zanabazar_Square",
];

/// Go's lookup key: case, spaces, `_` and `-` do not matter.
fn canonical(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, '_' | '-' | ' '))
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// What a `\p{name}` means, in the crate's terms.
pub(super) struct UnicodeClass {
    /// Union of these `\p{…}` items.
    pub items: Vec<String>,
    /// The class is the complement of `items` (Go's `Assigned` is "not Cn").
    pub negated: bool,
}

/// Resolve a `\p{…}` name as Go does, or `None` when Go refuses it.
pub(super) fn lookup(name: &str) -> Option<UnicodeClass> {
    let key = canonical(name);
    if key.is_empty() {
        return None;
    }
    let plain = |items: &[&str]| UnicodeClass {
        items: items.iter().map(|s| s.to_string()).collect(),
        negated: false,
    };
    match key.as_str() {
        "any" => return Some(plain(&["Any"])),
        "ascii" => return Some(plain(&["ASCII"])),
        "assigned" => {
            return Some(UnicodeClass {
                items: vec!["Cn".to_string()],
                negated: true,
            });
        }
        _ => {}
    }
    let category = |short: &str| {
        CATEGORIES
            .iter()
            .find(|(n, _)| *n == short)
            .map(|(_, items)| plain(items))
    };
    if let Some((n, _)) = CATEGORIES.iter().find(|(n, _)| canonical(n) == key) {
        return category(n);
    }
    if let Some(s) = SCRIPTS.iter().find(|s| canonical(s) == key) {
        return Some(UnicodeClass {
            items: vec![format!("sc={s}")],
            negated: false,
        });
    }
    CATEGORY_ALIASES
        .iter()
        .find(|(alias, _)| canonical(alias) == key)
        .and_then(|(_, short)| category(short))
}
