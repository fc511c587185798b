//! Reading the optimizer descriptions of the fixture manifests: constructor calls
//! (`Adam(lr=1e-2, betas=(0.9,0.999))`, `optax.lion(learning_rate=0.01)`) and numbers in
//! formulas.

use std::collections::BTreeMap;

/// A constructor call in a description: `Name(key=value, ...)`.
#[derive(Debug)]
pub struct Call {
    pub name: String,
    pub args: BTreeMap<String, String>,
}

/// The constructors the harness reads: `torch.optim`'s, PyTorch's clipping, and optax's.
pub const KNOWN: [&str; 8] = [
    "SGD",
    "Adam",
    "AdamW",
    "RMSprop",
    "Adagrad",
    "clip_grad_norm_",
    "lion",
    "lamb",
];

/// The known constructor calls of `desc`, in order (`torch.optim.SGD(` counts as `SGD(`,
/// `optax.lion(` as `lion(`).
pub fn calls(desc: &str) -> Result<Vec<Call>, String> {
    let b = desc.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'.';
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !ident(b[i]) || (i > 0 && ident(b[i - 1])) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && ident(b[i]) {
            i += 1;
        }
        let full = &desc[start..i];
        let name = full.rsplit('.').next().unwrap_or(full);
        if i < b.len() && b[i] == b'(' && KNOWN.contains(&name) {
            let (body, end) = balanced(desc, i)?;
            out.push(Call {
                name: name.to_string(),
                args: kwargs(body)?,
            });
            i = end;
        }
    }
    Ok(out)
}

/// The text inside the parenthesis opening at `open`, and the index after its closing one.
pub fn balanced(s: &str, open: usize) -> Result<(&str, usize), String> {
    let mut depth = 0;
    for (j, c) in s[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Ok((&s[open + 1..open + j], open + j + 1));
                }
            }
            _ => {}
        }
    }
    Err(format!("unbalanced parenthesis in `{s}`"))
}

/// `k=v, k=(a,b)` into a map; positional arguments are an error.
pub fn kwargs(body: &str) -> Result<BTreeMap<String, String>, String> {
    let mut parts = Vec::new();
    let (mut depth, mut from) = (0, 0);
    for (j, c) in body.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&body[from..j]);
                from = j + 1;
            }
            _ => {}
        }
    }
    parts.push(&body[from..]);
    let mut out = BTreeMap::new();
    for p in parts.into_iter().map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| format!("positional argument `{p}`"))?;
        out.insert(k.trim().to_string(), v.trim().to_string());
    }
    Ok(out)
}

/// Typed access to a call's arguments; every argument must be read, or it is unknown.
pub struct Args<'a> {
    call: &'a Call,
    used: Vec<&'static str>,
}

impl<'a> Args<'a> {
    pub fn new(call: &'a Call) -> Self {
        Args {
            call,
            used: Vec::new(),
        }
    }
    pub fn raw(&mut self, key: &'static str) -> Option<&'a str> {
        self.used.push(key);
        self.call.args.get(key).map(String::as_str)
    }
    pub fn num(&mut self, key: &'static str, default: f64) -> Result<f64, String> {
        self.raw(key).map_or(Ok(default), |v| {
            v.parse()
                .map_err(|_| format!("{}: `{key}={v}` is not a number", self.call.name))
        })
    }
    /// A number the call must give (no default).
    pub fn required(&mut self, key: &'static str) -> Result<f64, String> {
        self.num(key, f64::NAN).and_then(|v| {
            if v.is_nan() {
                Err(format!("{}: `{key}` is required", self.call.name))
            } else {
                Ok(v)
            }
        })
    }
    /// `key` must be absent or `want` (a value duet's optimizer fixes).
    pub fn fixed(&mut self, key: &'static str, want: f64, why: &str) -> Result<(), String> {
        match self.num(key, want)? {
            v if v == want => Ok(()),
            v => Err(format!("{}: `{key}={v}`: {why}", self.call.name)),
        }
    }
    pub fn flag(&mut self, key: &'static str) -> Result<bool, String> {
        match self.raw(key) {
            None | Some("False") => Ok(false),
            Some("True") => Ok(true),
            Some(v) => Err(format!("{}: `{key}={v}` is not a bool", self.call.name)),
        }
    }
    pub fn pair(&mut self, key: &'static str, default: (f64, f64)) -> Result<(f64, f64), String> {
        let Some(v) = self.raw(key) else {
            return Ok(default);
        };
        let inner = v.trim_start_matches('(').trim_end_matches(')');
        let xs: Vec<f64> = inner
            .split(',')
            .map(|x| x.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| format!("{}: `{key}={v}` is not a pair", self.call.name))?;
        match xs[..] {
            [a, b] => Ok((a, b)),
            _ => Err(format!("{}: `{key}={v}` is not a pair", self.call.name)),
        }
    }
    /// Fails on any argument that was not read.
    pub fn done(self) -> Result<(), String> {
        match self
            .call
            .args
            .keys()
            .find(|k| !self.used.contains(&k.as_str()))
        {
            Some(k) => Err(format!("{}: unknown hyper-parameter `{k}`", self.call.name)),
            None => Ok(()),
        }
    }
}

/// The number at the start of `s` (`0.03`, `1e-08`, `-2.5E3`).
pub fn number_at(s: &str) -> Option<f64> {
    let s = s.trim_start();
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || "eE.+-".contains(c)))
        .unwrap_or(s.len());
    s[..end].parse().ok()
}

/// The number following `marker` in `s`.
pub fn after(s: &str, marker: &str) -> Result<f64, String> {
    s.split_once(marker)
        .and_then(|(_, rest)| number_at(rest))
        .ok_or_else(|| format!("no number after `{marker}` in `{s}`"))
}
