//! Function signatures: a return type and parameters, printed the way scipy and Cython spell them.

use std::fmt;

use super::types::Type;

/// One parameter of a [`Signature`]. The name, when the text had one
/// (Cython writes `int __pyx_skip_dispatch`), is kept but never printed or compared.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Param {
    /// The parameter's type.
    pub ty: Type,
    /// The parameter's name, if the signature text gave one.
    pub name: Option<String>,
}

impl Param {
    /// An unnamed parameter.
    pub fn new(ty: Type) -> Param {
        Param { ty, name: None }
    }
}

/// A C function signature.
///
/// `Display` gives the canonical C spelling (`double (double, void *)`), which is
/// exactly what scipy compares capsule names against.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Signature {
    /// The return type (`Type::Void` for none).
    pub ret: Type,
    /// The parameters, in order.
    pub params: Vec<Param>,
}

impl Signature {
    /// A signature from a return type and unnamed parameter types.
    pub fn new(ret: Type, params: impl IntoIterator<Item = Type>) -> Signature {
        Signature {
            ret,
            params: params.into_iter().map(Param::new).collect(),
        }
    }

    /// Parse C style (`double (double, void *)`), Cython `__pyx_capi__` style or
    /// Numba style (`float64(float64, intp)`) text.
    pub fn parse(text: &str) -> Result<Signature, super::SignatureError> {
        super::parse::parse_signature(text)
    }

    /// The parameter types, in order.
    pub fn arg_types(&self) -> impl ExactSizeIterator<Item = &Type> {
        self.params.iter().map(|p| &p.ty)
    }

    /// Whether the two signatures are called the same way on this platform
    /// (every type pairwise [`Type::abi_eq`]).
    pub fn abi_eq(&self, other: &Signature) -> bool {
        self.abi_key() == other.abi_key()
    }

    /// A string two signatures share exactly when they are [`Signature::abi_eq`].
    pub fn abi_key(&self) -> String {
        let mut out = String::new();
        self.write_abi_key(&mut out);
        out
    }

    pub(crate) fn write_abi_key(&self, out: &mut String) {
        out.push_str("F(");
        self.ret.write_abi_key(out);
        for p in &self.params {
            out.push(',');
            p.ty.write_abi_key(out);
        }
        out.push(')');
    }

    /// The parameter list as C writes it, without parentheses (`double, void *`, or `void`).
    pub(crate) fn c_params(&self) -> String {
        if self.params.is_empty() {
            return "void".into();
        }
        self.params
            .iter()
            .map(|p| p.ty.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The Numba spelling (`float64(float64, intp)`), or `None` if a type has no Numba name.
    pub fn numba_string(&self) -> Option<String> {
        let ret = match self.ret {
            Type::Void => "none".to_string(),
            ref t => t.numba_name()?,
        };
        let args = self
            .params
            .iter()
            .map(|p| p.ty.numba_name())
            .collect::<Option<Vec<_>>>()?;
        Some(format!("{ret}({})", args.join(", ")))
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            &self
                .ret
                .c_declaration(&format!("({})", self.c_params()), false),
        )
    }
}
