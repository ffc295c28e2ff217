//! Shared helpers of the integration tests: the reader of the golden files in `tests/data/`.

#![allow(dead_code)]

use std::collections::HashMap;

use ndarray::{ArrayD, IxDyn};

/// One value of a golden case.
#[derive(Debug, Clone)]
pub enum Value {
    F32(ArrayD<f32>),
    Usize(Vec<usize>),
    Str(String),
}

/// A named case: key -> value.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub values: HashMap<String, Value>,
}

impl Case {
    pub fn f32(&self, key: &str) -> ArrayD<f32> {
        match self.values.get(key) {
            Some(Value::F32(a)) => a.clone(),
            other => panic!("case {}: {key} is not f32: {other:?}", self.name),
        }
    }

    pub fn scalar(&self, key: &str) -> f32 {
        let a = self.f32(key);
        assert_eq!(a.ndim(), 0, "case {}: {key} is not a scalar", self.name);
        a[IxDyn(&[])]
    }

    pub fn get_scalar(&self, key: &str) -> Option<f32> {
        self.values.contains_key(key).then(|| self.scalar(key))
    }

    pub fn usizes(&self, key: &str) -> Vec<usize> {
        match self.values.get(key) {
            Some(Value::Usize(v)) => v.clone(),
            other => panic!("case {}: {key} is not usize: {other:?}", self.name),
        }
    }

    pub fn str(&self, key: &str) -> Option<&str> {
        match self.values.get(key) {
            Some(Value::Str(s)) => Some(s),
            None => None,
            other => panic!("case {}: {key} is not a string: {other:?}", self.name),
        }
    }
}

/// Parses the line format written by the scripts in `tests/data/`.
pub fn parse(text: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut current: Option<Case> = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut tokens = line.split_whitespace();
        let key = tokens.next().expect("non-empty line");
        if key == "case" {
            let name = tokens.next().expect("case name").to_string();
            current = Some(Case { name, values: HashMap::new() });
            continue;
        }
        if key == "end" {
            cases.push(current.take().expect("end after case"));
            continue;
        }
        let kind = tokens.next().unwrap_or_else(|| panic!("line {}: no kind", n + 1));
        let shape: Vec<usize> = match tokens.next().expect("shape") {
            "-" => vec![],
            s => s.split(',').map(|d| d.parse().expect("dim")).collect(),
        };
        let rest: Vec<&str> = tokens.collect();
        let value = match kind {
            "f32" => {
                let v: Vec<f32> = rest
                    .iter()
                    .map(|h| f32::from_bits(u32::from_str_radix(h, 16).expect("hex bits")))
                    .collect();
                Value::F32(ArrayD::from_shape_vec(IxDyn(&shape), v).expect("shape matches"))
            }
            "usize" => Value::Usize(rest.iter().map(|v| v.parse().expect("usize")).collect()),
            "str" => Value::Str(rest.join(" ")),
            k => panic!("line {}: unknown kind {k}", n + 1),
        };
        current.as_mut().expect("value inside a case").values.insert(key.to_string(), value);
    }
    cases
}
