//! Per-key aggregation of related tables, shared by the layouts whose export spreads one asset
//! over several tables (RVTools: vInfo with vDisk, vPartition...; Google Migration Center:
//! vmInfo with diskInfo, perfInfo, tagInfo). The rows of the related tables are read once and
//! folded per key (a VM, a machine) into the values of joined columns; the asset rows then get
//! those values appended. Memory grows with the number of keys and joined columns present, not
//! with the number of related rows.

use std::collections::HashMap;

/// How a joined column is computed from the related rows of one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Agg {
    /// Number of rows (whatever the values).
    Count,
    /// Sum of the numeric values.
    Sum,
    /// Average of the numeric values, rounded to 2 decimals.
    Mean,
    /// Largest numeric value.
    Max,
    /// Smallest numeric value.
    Min,
    /// First non-empty value.
    First,
}

/// A joined column: its name, the table and column it comes from (`None`: the value is given
/// directly, or the column counts rows) and its aggregation.
#[derive(Debug, Clone)]
pub(crate) struct Joined {
    pub name: String,
    pub table: String,
    pub column: Option<usize>,
    pub agg: Agg,
}

impl Joined {
    pub(crate) fn new(name: &str, table: &str, column: Option<usize>, agg: Agg) -> Joined {
        Joined {
            name: name.to_string(),
            table: table.to_string(),
            column,
            agg,
        }
    }
}

#[derive(Debug, Clone)]
struct Slot {
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    first: Option<String>,
}

impl Default for Slot {
    fn default() -> Self {
        Slot {
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            first: None,
        }
    }
}

/// The joined columns and their values per key (sparse: a key holds only the columns its rows
/// gave a value to).
#[derive(Debug, Default)]
pub(crate) struct Aggregates {
    columns: Vec<Joined>,
    values: HashMap<String, Vec<(u32, Slot)>>,
}

impl Aggregates {
    pub(crate) fn new(columns: Vec<Joined>) -> Aggregates {
        Aggregates {
            columns,
            values: HashMap::new(),
        }
    }

    pub(crate) fn columns(&self) -> &[Joined] {
        &self.columns
    }

    /// The column of that name, added (with [`Agg::First`], values given directly) when new:
    /// for columns named by the data, e.g. one per tag key.
    pub(crate) fn column(&mut self, name: &str, table: &str) -> usize {
        match self.columns.iter().position(|c| c.name == name) {
            Some(i) => i,
            None => {
                self.columns
                    .push(Joined::new(name, table, None, Agg::First));
                self.columns.len() - 1
            }
        }
    }

    /// The joined columns fed by the rows of `table`.
    pub(crate) fn of_table(&self, table: &str) -> Vec<usize> {
        (0..self.columns.len())
            .filter(|&i| self.columns[i].table == table)
            .collect()
    }

    /// Whether any row was added for the key.
    pub(crate) fn contains(&self, key: &str) -> bool {
        self.values.contains_key(key)
    }

    /// The keys seen.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }

    /// Folds one related row of `key` into the given columns (see [`Aggregates::of_table`]).
    pub(crate) fn add_row(&mut self, key: &str, columns: &[usize], row: &[Option<String>]) {
        let Aggregates {
            columns: joined,
            values,
        } = self;
        let slots = entry(values, key);
        for &i in columns {
            let c = &joined[i];
            let value = c.column.and_then(|j| row.get(j)).and_then(Option::as_deref);
            fold(slot(slots, i), c.agg, value);
        }
    }

    /// Folds one value into one column of `key`.
    pub(crate) fn add(&mut self, key: &str, column: usize, value: Option<&str>) {
        let agg = self.columns[column].agg;
        let slots = entry(&mut self.values, key);
        fold(slot(slots, column), agg, value);
    }

    /// The value of one column for a key, as text.
    pub(crate) fn value(&self, key: &str, column: usize) -> Option<String> {
        let slots = self.values.get(key)?;
        let c = &self.columns[column];
        let slot = slots
            .binary_search_by_key(&(column as u32), |(i, _)| *i)
            .ok()
            .map(|k| &slots[k].1);
        match (c.agg, slot) {
            // A key with related rows but none in this column's table counts zero.
            (Agg::Count, None) => Some("0".into()),
            (_, None) => None,
            (Agg::Count, Some(s)) => Some(s.count.to_string()),
            (Agg::Sum, Some(s)) => (s.count > 0).then(|| number(s.sum)),
            (Agg::Mean, Some(s)) => (s.count > 0).then(|| number(round2(s.sum / s.count as f64))),
            (Agg::Max, Some(s)) => (s.count > 0).then(|| number(s.max)),
            (Agg::Min, Some(s)) => (s.count > 0).then(|| number(s.min)),
            (Agg::First, Some(s)) => s.first.clone(),
        }
    }

    /// The values of every column for a key, in column order.
    pub(crate) fn values(&self, key: &str) -> Vec<Option<String>> {
        if !self.values.contains_key(key) {
            return vec![None; self.columns.len()];
        }
        (0..self.columns.len())
            .map(|i| self.value(key, i))
            .collect()
    }
}

fn entry<'a>(
    values: &'a mut HashMap<String, Vec<(u32, Slot)>>,
    key: &str,
) -> &'a mut Vec<(u32, Slot)> {
    if !values.contains_key(key) {
        values.insert(key.to_string(), Vec::new());
    }
    values.get_mut(key).expect("inserted above")
}

fn slot(slots: &mut Vec<(u32, Slot)>, column: usize) -> &mut Slot {
    let k = match slots.binary_search_by_key(&(column as u32), |(i, _)| *i) {
        Ok(k) => k,
        Err(k) => {
            slots.insert(k, (column as u32, Slot::default()));
            k
        }
    };
    &mut slots[k].1
}

fn fold(slot: &mut Slot, agg: Agg, value: Option<&str>) {
    match agg {
        Agg::Count => slot.count += 1,
        Agg::First => {
            if slot.first.is_none() {
                slot.first = value.map(str::to_string);
            }
        }
        Agg::Sum | Agg::Mean | Agg::Max | Agg::Min => {
            if let Some(x) = value.and_then(|s| s.trim().parse::<f64>().ok())
                && x.is_finite()
            {
                slot.count += 1;
                slot.sum += x;
                slot.min = slot.min.min(x);
                slot.max = slot.max.max(x);
            }
        }
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// A number as text: integral values without a decimal point.
pub(crate) fn number(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn some(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    #[test]
    fn folds_per_key_and_column() {
        let mut a = Aggregates::new(vec![
            Joined::new("n", "t", None, Agg::Count),
            Joined::new("sum", "t", Some(0), Agg::Sum),
            Joined::new("mean", "t", Some(0), Agg::Mean),
            Joined::new("max", "t", Some(0), Agg::Max),
            Joined::new("min", "t", Some(0), Agg::Min),
            Joined::new("first", "t", Some(1), Agg::First),
            Joined::new("other", "u", Some(0), Agg::Count),
        ]);
        let cols = a.of_table("t");
        a.add_row("k", &cols, &[some("10"), None]);
        a.add_row("k", &cols, &[some("5"), some("x")]);
        a.add_row("k", &cols, &[some("n/a"), some("y")]);
        a.add_row("j", &cols, &[None, None]);
        assert_eq!(
            a.values("k"),
            [
                some("3"),
                some("15"),
                some("7.5"),
                some("10"),
                some("5"),
                some("x"),
                some("0")
            ]
        );
        assert_eq!(
            a.values("j"),
            [some("1"), None, None, None, None, None, some("0")]
        );
        assert_eq!(a.values("absent"), vec![None; 7]);
    }

    #[test]
    fn columns_named_by_the_data_are_added_once() {
        let mut a = Aggregates::default();
        let env = a.column("tag.env", "tags");
        assert_eq!(a.column("tag.env", "tags"), env);
        a.add("m1", env, Some("prod"));
        a.add("m1", env, Some("test"));
        let owner = a.column("tag.owner", "tags");
        a.add("m2", owner, Some("ann"));
        assert_eq!(a.values("m1"), [some("prod"), None]);
        assert_eq!(a.values("m2"), [None, some("ann")]);
        assert_eq!(number(2.0), "2");
        assert_eq!(round2(1.0 / 3.0), 0.33);
    }
}
