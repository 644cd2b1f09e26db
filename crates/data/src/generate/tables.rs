//! Categorical value tables: e-mail domains, addresses, card attributes, devices, browsers and screens, with the
//! weights (share of transactions) seen in the real data. Fraud weights say which values fraudsters favour; they are
//! what makes e-mail and device columns carry signal.

/// One of the five ProductCD values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Product {
    W,
    C,
    R,
    H,
    S,
}

impl Product {
    pub(crate) fn code(self) -> &'static str {
        match self {
            Product::W => "W",
            Product::C => "C",
            Product::R => "R",
            Product::H => "H",
            Product::S => "S",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// E-mail domains: (domain, share of all transactions, relative fraud propensity).
pub(crate) const EMAILS: &[(&str, f64, f64)] = &[
    ("gmail.com", 38.7, 1.3),
    ("yahoo.com", 17.1, 0.65),
    ("hotmail.com", 7.7, 1.5),
    ("anonymous.com", 6.3, 0.7),
    ("aol.com", 4.8, 0.6),
    ("comcast.net", 1.3, 0.9),
    ("icloud.com", 1.1, 1.3),
    ("outlook.com", 0.86, 2.8),
    ("msn.com", 0.7, 0.7),
    ("att.net", 0.7, 0.25),
    ("live.com", 0.52, 0.8),
    ("sbcglobal.net", 0.47, 0.4),
    ("verizon.net", 0.43, 0.25),
    ("ymail.com", 0.4, 0.6),
    ("bellsouth.net", 0.32, 0.8),
    ("yahoo.com.mx", 0.26, 0.3),
    ("me.com", 0.26, 0.5),
    ("cox.net", 0.24, 0.6),
    ("optonline.net", 0.17, 0.5),
    ("charter.net", 0.13, 0.6),
    ("live.com.mx", 0.13, 0.8),
    ("rocketmail.com", 0.11, 0.4),
    ("mail.com", 0.1, 5.5),
    ("earthlink.net", 0.09, 0.6),
    ("gmail", 0.08, 0.7),
    ("outlook.es", 0.075, 3.8),
    ("mac.com", 0.074, 0.7),
    ("juno.com", 0.054, 0.4),
    ("aim.com", 0.054, 3.6),
    ("hotmail.es", 0.052, 1.9),
    ("roadrunner.com", 0.052, 0.4),
    ("windstream.net", 0.052, 0.3),
    ("hotmail.fr", 0.05, 0.4),
    ("frontier.com", 0.048, 0.6),
    ("embarqmail.com", 0.035, 1.0),
    ("web.de", 0.035, 0.1),
    ("netzero.com", 0.035, 0.1),
    ("twc.com", 0.04, 0.3),
    ("prodigy.net.mx", 0.04, 0.2),
    ("centurylink.net", 0.035, 0.3),
    ("netzero.net", 0.028, 0.5),
    ("frontiernet.net", 0.024, 0.7),
    ("q.com", 0.022, 0.2),
    ("suddenlink.net", 0.021, 0.5),
    ("cfl.rr.com", 0.02, 0.1),
    ("sc.rr.com", 0.02, 0.3),
    ("cableone.net", 0.02, 0.6),
    ("gmx.de", 0.02, 0.1),
    ("yahoo.fr", 0.018, 1.0),
    ("yahoo.es", 0.015, 0.6),
    ("hotmail.co.uk", 0.015, 1.8),
    ("protonmail.com", 0.013, 12.0),
    ("yahoo.de", 0.012, 0.7),
    ("ptd.net", 0.012, 0.1),
    ("live.fr", 0.009, 1.6),
    ("yahoo.co.uk", 0.008, 1.1),
    ("hotmail.de", 0.008, 1.4),
    ("servicios-ta.com", 0.006, 0.2),
    ("yahoo.co.jp", 0.006, 0.8),
];

/// addr1 values with their share; the rest of the ~330 codes share the remaining weight evenly.
pub(crate) const ADDR1_HEAD: &[(u16, f64)] = &[
    (299, 8.0),
    (325, 7.3),
    (204, 7.2),
    (264, 6.8),
    (330, 4.6),
    (315, 3.8),
    (441, 3.5),
    (272, 3.4),
    (123, 2.8),
    (126, 2.6),
    (184, 2.4),
    (337, 2.3),
    (191, 2.2),
    (181, 2.1),
    (143, 2.1),
    (476, 2.0),
    (310, 2.0),
    (327, 1.9),
    (512, 1.8),
    (433, 1.6),
];

/// card5 values (bank/region code) and their shares.
pub(crate) const CARD5: &[(u16, f64)] = &[
    (226, 50.0),
    (224, 13.7),
    (166, 9.8),
    (102, 5.0),
    (117, 4.3),
    (138, 3.2),
    (195, 2.6),
    (137, 1.9),
    (126, 1.7),
    (219, 1.7),
    (202, 1.2),
    (229, 1.0),
    (162, 0.9),
    (150, 0.6),
    (236, 0.5),
];

/// card4 (network): (name, share, fraud propensity).
pub(crate) const CARD4: &[(&str, f64, f64)] =
    &[("visa", 65.2, 1.0), ("mastercard", 32.1, 0.97), ("american express", 1.4, 0.4), ("discover", 1.1, 2.0)];

/// card6 (card type): (name, share, fraud propensity).
pub(crate) const CARD6: &[(&str, f64, f64)] =
    &[("debit", 74.5, 1.0), ("credit", 22.0, 2.6), ("debit or credit", 0.005, 0.1), ("charge card", 0.003, 0.1)];

/// A device family: what DeviceType, DeviceInfo, OS, browser, colour depth and screen a device of it shows.
pub(crate) struct DeviceFamily {
    pub(crate) mobile: bool,
    /// DeviceInfo strings (weights).
    pub(crate) infos: &'static [(&'static str, f64)],
    pub(crate) oses: &'static [(&'static str, f64)],
    pub(crate) browsers: &'static [(&'static str, f64)],
    pub(crate) screens: &'static [(&'static str, f64)],
    /// id_32 colour depth.
    pub(crate) depth: f64,
}

/// Device families with (share among identity rows, fraud propensity).
pub(crate) const DEVICES: &[(DeviceFamily, f64, f64)] = &[
    (
        DeviceFamily {
            mobile: false,
            infos: &[("Windows", 92.0), ("Trident/7.0", 8.0)],
            oses: &[
                ("Windows 10", 58.0),
                ("Windows 7", 30.0),
                ("Windows 8.1", 8.0),
                ("Windows XP", 1.0),
                ("Windows", 3.0),
            ],
            browsers: &[
                ("chrome 62.0", 30.0),
                ("chrome 63.0", 24.0),
                ("chrome 64.0", 10.0),
                ("firefox 57.0", 9.0),
                ("ie 11.0 for desktop", 8.0),
                ("edge 15.0", 5.0),
                ("edge 16.0", 5.0),
                ("chrome 61.0", 3.0),
                ("firefox 58.0", 3.0),
                ("chrome", 1.5),
                ("other", 1.5),
            ],
            screens: &[
                ("1920x1080", 30.0),
                ("1366x768", 28.0),
                ("1440x900", 6.0),
                ("1600x900", 8.0),
                ("1280x1024", 5.0),
                ("1280x800", 5.0),
                ("1920x1200", 4.0),
                ("1536x864", 6.0),
                ("1280x720", 4.0),
                ("2560x1440", 2.0),
                ("1024x768", 2.0),
            ],
            depth: 24.0,
        },
        50.0,
        0.85,
    ),
    (
        DeviceFamily {
            mobile: false,
            infos: &[("MacOS", 100.0)],
            oses: &[
                ("Mac OS X 10_13_1", 20.0),
                ("Mac OS X 10_12_6", 20.0),
                ("Mac OS X 10_11_6", 18.0),
                ("Mac OS X 10_13_2", 12.0),
                ("Mac OS X 10_10_5", 10.0),
                ("Mac OS X 10_13_3", 8.0),
                ("Mac OS X 10.12", 5.0),
                ("Mac OS X 10_9_5", 4.0),
                ("Mac", 3.0),
            ],
            browsers: &[
                ("safari generic", 35.0),
                ("chrome 62.0", 25.0),
                ("chrome 63.0", 20.0),
                ("firefox 57.0", 10.0),
                ("safari 11.0", 10.0),
            ],
            screens: &[
                ("2560x1600", 25.0),
                ("1440x900", 30.0),
                ("2880x1800", 20.0),
                ("1280x800", 15.0),
                ("5120x2880", 5.0),
                ("1680x1050", 5.0),
            ],
            depth: 24.0,
        },
        12.0,
        0.6,
    ),
    (
        DeviceFamily {
            mobile: true,
            infos: &[("iOS Device", 100.0)],
            oses: &[
                ("iOS 11.1.2", 22.0),
                ("iOS 11.2.1", 15.0),
                ("iOS 11.2.6", 10.0),
                ("iOS 11.0.3", 7.0),
                ("iOS 10.3.3", 10.0),
                ("iOS 11.1.1", 6.0),
                ("iOS 11.2.5", 8.0),
                ("iOS 11.3.0", 8.0),
                ("iOS 11.1.0", 4.0),
                ("iOS 9.3.5", 2.0),
                ("iOS 10.3.1", 3.0),
            ],
            browsers: &[
                ("mobile safari 11.0", 55.0),
                ("mobile safari generic", 15.0),
                ("mobile safari 10.0", 12.0),
                ("chrome 62.0 for ios", 6.0),
                ("chrome 63.0 for ios", 5.0),
                ("google search application 48.0", 4.0),
                ("mobile safari 9.0", 3.0),
            ],
            screens: &[
                ("1334x750", 35.0),
                ("2208x1242", 30.0),
                ("2436x1125", 10.0),
                ("1136x640", 10.0),
                ("2048x1536", 10.0),
                ("2732x2048", 3.0),
                ("2001x1125", 2.0),
            ],
            depth: 32.0,
        },
        27.0,
        1.25,
    ),
    (
        DeviceFamily {
            mobile: true,
            infos: &[
                ("SM-G892A Build/NRD90M", 4.0),
                ("SAMSUNG SM-G892A Build/NRD90M", 3.0),
                ("SM-G930V Build/NRD90M", 6.0),
                ("SM-G950U Build/NRD90M", 6.0),
                ("SM-G955U Build/NRD90M", 4.0),
                ("SM-J700M Build/MMB29K", 5.0),
                ("SM-G610M Build/MMB29K", 5.0),
                ("SM-G531H Build/LMY48B", 3.0),
                ("SM-N950U Build/NMF26X", 3.0),
                ("SM-A520F Build/NRD90M", 2.0),
                ("Moto G (5) Plus Build/NPNS25.137-35-5", 3.0),
                ("Moto E (4) Build/NMA26.42-69", 2.0),
                ("XT1635-02 Build/NPN26.118-22-2", 2.0),
                ("Redmi Note 4 Build/MMB29M", 3.0),
                ("LG-H872 Build/NRD90U", 2.0),
                ("LG-K500 Build/MMB29M", 2.0),
                ("Blade V6 Plus Build/MRA58K", 2.0),
                ("BLADE A602 Build/MRA58K", 1.0),
                ("KFFOWI Build/LVY48F", 2.0),
                ("Pixel 2 Build/OPM1.171019.011", 1.5),
                ("Hisense F24 Build/NRD90M", 1.0),
                ("HUAWEI VNS-L23 Build/HUAWEIVNS-L23", 1.5),
                ("KYOCERA-C6742A Build/LMY47V", 1.0),
                ("Lenovo PB1-750M Build/S100", 0.5),
                ("rv:57.0", 1.0),
            ],
            oses: &[
                ("Android 7.0", 35.0),
                ("Android 7.1.1", 12.0),
                ("Android 6.0.1", 18.0),
                ("Android 5.1.1", 10.0),
                ("Android 8.0.0", 10.0),
                ("Android 6.0", 5.0),
                ("Android", 10.0),
            ],
            browsers: &[
                ("chrome 62.0 for android", 35.0),
                ("chrome 63.0 for android", 25.0),
                ("chrome 64.0 for android", 10.0),
                ("samsung browser 6.2", 12.0),
                ("chrome 61.0 for android", 8.0),
                ("chrome generic", 5.0),
                ("samsung browser 6.4", 5.0),
            ],
            screens: &[
                ("2220x1080", 20.0),
                ("1920x1080", 20.0),
                ("1280x720", 20.0),
                ("2560x1440", 15.0),
                ("2960x1440", 8.0),
                ("1024x600", 7.0),
                ("960x540", 10.0),
            ],
            depth: 32.0,
        },
        18.0,
        1.9,
    ),
    (
        DeviceFamily {
            mobile: false,
            infos: &[("Linux", 60.0), ("rv:57.0", 25.0), ("rv:52.0", 15.0)],
            oses: &[("Linux", 100.0)],
            browsers: &[("chrome 62.0", 40.0), ("firefox 57.0", 40.0), ("firefox", 20.0)],
            screens: &[("1920x1080", 50.0), ("1366x768", 50.0)],
            depth: 24.0,
        },
        2.0,
        1.2,
    ),
];

/// id_14 timezone offsets in minutes and their shares.
pub(crate) const TIMEZONES: &[(f64, f64)] = &[
    (-300.0, 45.0),
    (-360.0, 19.0),
    (-480.0, 11.0),
    (-420.0, 8.0),
    (-600.0, 3.0),
    (60.0, 3.0),
    (0.0, 2.0),
    (-180.0, 2.0),
    (480.0, 1.5),
    (-540.0, 1.5),
    (120.0, 1.0),
    (330.0, 1.0),
    (540.0, 1.0),
    (-240.0, 1.0),
];

/// id_13 codes and their shares.
pub(crate) const ID13: &[(f64, f64)] = &[
    (52.0, 46.0),
    (49.0, 25.0),
    (64.0, 7.0),
    (33.0, 4.0),
    (20.0, 6.0),
    (14.0, 3.0),
    (18.0, 2.0),
    (25.0, 2.0),
    (39.0, 2.0),
    (43.0, 1.5),
    (11.0, 1.5),
];

/// id_01 values (multiples of -5) and their shares.
pub(crate) const ID01: &[(f64, f64)] = &[
    (-5.0, 52.0),
    (0.0, 30.0),
    (-10.0, 4.0),
    (-20.0, 6.0),
    (-15.0, 2.5),
    (-30.0, 1.5),
    (-25.0, 1.0),
    (-40.0, 1.0),
    (-45.0, 0.5),
    (-100.0, 1.5),
];
