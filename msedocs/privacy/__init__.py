"""Order 692n: referrals examined without access to personal data.

- :mod:`.tokens`: identifiers that replace the eight categories (random per referral,
  category-prefixed, never a valid СНИЛС or ЕНП);
- :mod:`.kek`: key-encryption keys from a file, an environment variable or PKCS#11;
- :mod:`.vault`: AES-256-GCM, one data key per referral wrapped by the KEK; rewrap, erase;
- :mod:`.depersonalise`: the bureau's copy of a referral, free text scanned;
- :mod:`.audit`: the append-only, hash-chained log with Ed25519-signed checkpoints;
- :mod:`.reveal`: the rules of point 12 for lifting the restriction.
"""

CATEGORIES = {
    1: "фамилия, имя, отчество",
    2: "адрес регистрации, адрес фактического проживания",
    3: "контактные данные (электронная почта, телефон)",
    4: "СНИЛС",
    5: "номер полиса ОМС",
    6: "документ, удостоверяющий личность",
    7: "сведения о законном или уполномоченном представителе",
    8: "сведения о специалистах, участвовавших в предыдущей МСЭ",
}
