//! `custom = [...]` on an SNMP target: user OIDs, walked tables, index labels and value
//! lookups, checked into CustomOid. No agent is contacted here.

// The kind checks share the parent's key tables, limits and helpers; naming each would only
// repeat kinds/mod.rs's import list.
use super::*;

impl Checker<'_> {
    pub(super) fn custom_oids(
        &mut self,
        value: &Val<'_>,
        section: &Section,
    ) -> Option<Vec<CustomOid>> {
        let accepted = "write custom = [{ name = \"…\", oid = \"1.3.6.1…\", type = \"gauge\" }, …]";
        let DeValue::Array(items) = value.get_ref() else {
            self.problem(
                &value.span(),
                format!(
                    "`custom` in {} must be an array of tables, found {}; {accepted}",
                    section.0,
                    type_name(value.get_ref())
                ),
            );
            return None;
        };
        let mut out = Vec::new();
        let mut ok = true;
        // name → where it was first defined, to name both places of a duplicate.
        let mut seen: HashMap<String, Range<usize>> = HashMap::new();
        for (i, item) in items.iter().enumerate() {
            let DeValue::Table(table) = item.get_ref() else {
                self.problem(
                    &item.span(),
                    format!(
                        "each `custom` entry in {} must be a table, found {}; {accepted}",
                        section.0,
                        type_name(item.get_ref())
                    ),
                );
                ok = false;
                continue;
            };
            match self.custom_oid(item, table, i, section, &mut seen) {
                Some(c) => out.push(c),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn custom_oid(
        &mut self,
        item: &Val<'_>,
        table: &DeTable<'_>,
        index: usize,
        target: &Section,
        seen: &mut HashMap<String, Range<usize>>,
    ) -> Option<CustomOid> {
        let section = Section(format!("`custom` entry #{} of {}", index + 1, target.0));
        let fields = self.fields(table, &section, CUSTOM_KEYS);
        let name = match fields.value("name") {
            Some(v) => self.string(v, "name", &section).and_then(|n| {
                if !valid_metric_name(n) {
                    self.problem(
                        &v.span(),
                        format!(
                            "invalid series name \"{}\" in {}; use [a-zA-Z_:][a-zA-Z0-9_:]*",
                            n.escape_debug(),
                            section.0
                        ),
                    );
                    return None;
                }
                if let Some(first) = seen.get(n) {
                    let first_at = self.position_text(first);
                    self.problem(
                        &v.span(),
                        format!(
                            "duplicate custom name \"{n}\" in {}, first defined at {first_at}; each custom OID needs its own name",
                            target.0
                        ),
                    );
                    return None;
                }
                seen.insert(n.to_owned(), v.span());
                Some(n.to_owned())
            }),
            None => {
                self.problem(
                    &item.span(),
                    format!(
                        "{} has no `name`; give the series a name like \"ups_battery_charge\"",
                        section.0
                    ),
                );
                None
            }
        };
        let oid = match fields.value("oid") {
            Some(v) => self
                .string(v, "oid", &section)
                .and_then(|text| match parse_oid(text) {
                    Ok(arcs) => Some(arcs),
                    Err(why) => {
                        let message = format!(
                            "invalid `oid` \"{}\" in {}: {why}",
                            text.escape_debug(),
                            section.0
                        );
                        self.problem(&v.span(), message);
                        None
                    }
                }),
            None => {
                self.problem(
                    &item.span(),
                    format!(
                        "{} has no `oid`; give a numeric OID like \"1.3.6.1.2.1.1.3.0\"",
                        section.0
                    ),
                );
                None
            }
        };
        let types = quoted_list(&names(CUSTOM_TYPES));
        let kind = match fields.value("type") {
            Some(v) => {
                self.string(v, "type", &section)
                    .and_then(|t| match lookup(CUSTOM_TYPES, t) {
                        Some(k) => Some(k),
                        None => {
                            let hint = hint(t, &names(CUSTOM_TYPES));
                            self.problem(
                                &v.span(),
                                format!(
                                    "unknown `type` \"{}\" in {}; {hint}accepted: {types}",
                                    t.escape_debug(),
                                    section.0
                                ),
                            );
                            None
                        }
                    })
            }
            // Counter or gauge changes every computed rate, so it is never guessed.
            None => {
                self.problem(
                    &item.span(),
                    format!("{} has no `type`; accepted: {types}", section.0),
                );
                None
            }
        };
        let walk = match fields.value("walk") {
            Some(v) => self.boolean(v, "walk", &section),
            None => Some(false),
        };
        let index_labels = match fields.get("index_labels") {
            Some((key, v)) => {
                if walk == Some(false) {
                    self.problem(
                        &key.span(),
                        format!(
                            "`index_labels` in {} names the index of walked rows, but `walk` is false; set walk = true or remove it",
                            section.0
                        ),
                    );
                }
                self.index_labels(v, &section)
                    .filter(|_| walk != Some(false))
            }
            None => Some(Vec::new()),
        };
        let lookup = match fields.get("lookup") {
            Some((key, v)) => {
                let misplaced = kind.is_some_and(|k| k != CustomOidKind::Gauge);
                if misplaced {
                    self.problem(
                        &key.span(),
                        format!(
                            "`lookup` in {} maps integer states to names; it needs type = \"gauge\"",
                            section.0
                        ),
                    );
                }
                self.lookup_table(v, &section).filter(|_| !misplaced)
            }
            None => Some(Vec::new()),
        };
        Some(CustomOid {
            name: name?,
            oid: oid?,
            kind: kind?,
            walk: walk?,
            index_labels: index_labels?,
            lookup: lookup?,
        })
    }

    fn index_labels(&mut self, value: &Val<'_>, section: &Section) -> Option<Vec<String>> {
        let DeValue::Array(items) = value.get_ref() else {
            self.problem(
                &value.span(),
                format!(
                    "`index_labels` in {} must be an array of label names, found {}",
                    section.0,
                    type_name(value.get_ref())
                ),
            );
            return None;
        };
        let mut labels: Vec<String> = Vec::new();
        let mut ok = true;
        for item in items.iter() {
            let Some(name) = self.string(item, "index_labels", section) else {
                ok = false;
                continue;
            };
            let why = match check_label_name(name) {
                Err(why) => Some(why.to_string()),
                Ok(()) if labels.iter().any(|l| l == name) => {
                    Some("it is listed twice; each index part needs its own label".to_string())
                }
                Ok(()) => None,
            };
            match why {
                Some(why) => {
                    self.problem(
                        &item.span(),
                        format!(
                            "invalid index label \"{}\" in {}: {why}",
                            name.escape_debug(),
                            section.0
                        ),
                    );
                    ok = false;
                }
                None => labels.push(name.to_owned()),
            }
        }
        ok.then_some(labels)
    }

    fn lookup_table(&mut self, value: &Val<'_>, section: &Section) -> Option<Vec<(i64, String)>> {
        let table = self.table(
            value,
            "lookup",
            "write lookup = { 1 = \"up\", 2 = \"down\" }",
        )?;
        let mut out: Vec<(i64, String)> = Vec::new();
        let mut ok = true;
        // The table iterates in key order; a repeat is the later one in the file.
        let mut entries: Vec<_> = table.iter().collect();
        entries.sort_by_key(|(key, _)| key.span().start);
        let mut seen: Vec<i64> = Vec::new();
        for (key, v) in entries {
            let raw: &str = key.get_ref();
            let number = match raw.parse::<i64>() {
                Ok(n) if seen.contains(&n) => {
                    self.problem(
                        &key.span(),
                        format!(
                            "`lookup` key {n} in {} is given twice; map each value once",
                            section.0
                        ),
                    );
                    None
                }
                Ok(n) => {
                    seen.push(n);
                    Some(n)
                }
                Err(_) => {
                    self.problem(
                        &key.span(),
                        format!(
                            "`lookup` key \"{}\" in {} is not an integer; keys are the values the agent returns, like 1 or -1",
                            raw.escape_debug(),
                            section.0
                        ),
                    );
                    None
                }
            };
            let text = match v.get_ref() {
                DeValue::String(s) if !s.is_empty() => Some(s.to_string()),
                other => {
                    self.problem(
                        &v.span(),
                        format!(
                            "`lookup` value for \"{}\" in {} must be a non-empty string, found {}",
                            raw.escape_debug(),
                            section.0,
                            if matches!(other, DeValue::String(_)) {
                                "an empty string"
                            } else {
                                type_name(other)
                            }
                        ),
                    );
                    None
                }
            };
            match (number, text) {
                (Some(n), Some(t)) => out.push((n, t)),
                _ => ok = false,
            }
        }
        ok.then_some(out)
    }
}
