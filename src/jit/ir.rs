//! The kernel IR: the Python subset after name resolution.
//!
//! The Python frontend (`python/nativecall/_jit.py`) turns a function's `ast` into
//! this tree: globals and closure numbers are already constants, callees are
//! already addresses with signatures. What is left is typing and code generation.

use crate::abi::{Signature, Type};

/// A position in the user's source (1-based line, 0-based column, as Python's `ast`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    /// Line number.
    pub line: u32,
    /// Column offset.
    pub col: u32,
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/` (true division)
    Div,
    /// `//` (floor division)
    FloorDiv,
    /// `%` (Python modulo: the sign of the divisor)
    Mod,
    /// `**`
    Pow,
    /// `&`
    BitAnd,
    /// `|`
    BitOr,
    /// `^`
    BitXor,
    /// `<<`
    LShift,
    /// `>>`
    RShift,
}

impl BinOp {
    /// The Python spelling.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::FloorDiv => "//",
            BinOp::Mod => "%",
            BinOp::Pow => "**",
            BinOp::BitAnd => "&",
            BinOp::BitOr => "|",
            BinOp::BitXor => "^",
            BinOp::LShift => "<<",
            BinOp::RShift => ">>",
        }
    }
}

/// Unary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    /// `-x`
    Neg,
    /// `+x`
    Pos,
    /// `not x`
    Not,
    /// `~x`
    Invert,
}

/// Comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    /// The operator that gives the same answer with the operands swapped (`a < b` is `b > a`).
    pub fn swapped(self) -> CmpOp {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
            same => same,
        }
    }
}

/// Built-in functions and the `math` module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    /// `abs(x)`
    Abs,
    /// `min(a, b, ...)`
    Min,
    /// `max(a, b, ...)`
    Max,
    /// `int(x)`
    Int,
    /// `float(x)`
    Float,
    /// `bool(x)`
    Bool,
    /// `len(a)` of an array (its first dimension).
    Len,
    /// A `math` function taking and returning floats (by name: `sqrt`, `exp`, ...).
    Math(MathFn),
    /// A NumPy function whose semantics on float64 scalars differ from `math`'s.
    Numpy(NpFn),
    /// `complex(re)` / `complex(re, im)`.
    Complex,
    /// `z.real` (and `np.real(z)`): a number's real part.
    Real,
    /// `z.imag` (and `np.imag(z)`): a number's imaginary part (0 of a real number).
    Imag,
    /// `z.conjugate()` (and `np.conj(z)`).
    Conj,
    /// A `cmath` function, or (`true`) the NumPy function of that name, which on real
    /// numbers is the [`MathFn`] of that name.
    Cmath(CmathFn, bool),
    /// A NumPy reduction of a whole 1-D array (`np.sum(a)`, `a.sum()`).
    Reduce(Reduction),
    /// `np.empty(n, dtype)` (`zeroed`: `np.zeros`): a 1-D scratch array the kernel owns,
    /// freed when it returns.
    Scratch {
        /// The element type.
        elem: Number,
        /// Whether the elements start at zero.
        zeroed: bool,
    },
}

/// A number type, as an array's element type ([`Type`] of a bool, int or real float).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Number {
    /// `bool`.
    Bool,
    /// An integer.
    Int(crate::abi::IntType),
    /// A real float.
    Float(crate::abi::FloatType),
}

impl Number {
    /// `t` as a number type, if it is one.
    pub fn of(t: &Type) -> Option<Number> {
        Some(match t {
            Type::Bool => Number::Bool,
            Type::Int(i) => Number::Int(*i),
            Type::Float(f) => Number::Float(*f),
            _ => return None,
        })
    }

    /// The kernel type.
    pub fn ty(self) -> Type {
        match self {
            Number::Bool => Type::Bool,
            Number::Int(i) => Type::Int(i),
            Number::Float(f) => Type::Float(f),
        }
    }
}

/// The NumPy reductions kernels compute over a whole 1-D array (see docs/semantics.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduction {
    /// `np.sum`: 0 for an empty array.
    Sum,
    /// `np.mean`: NaN for an empty array.
    Mean,
    /// `np.var` (ddof=0), two passes as NumPy's.
    Var,
    /// `np.std`: the square root of `np.var`.
    Std,
    /// `np.min`: NaN if any element is NaN; an empty array is an error.
    Min,
    /// `np.max`: as `np.min`.
    Max,
    /// `np.median`: NaN if any element is NaN or the array is empty.
    Median,
    /// `np.nanmedian`: the median of the elements that are not NaN.
    Nanmedian,
}

impl Reduction {
    /// Look up a reduction by its NumPy name.
    pub fn from_name(name: &str) -> Option<Reduction> {
        Some(match name {
            "sum" => Reduction::Sum,
            "mean" => Reduction::Mean,
            "var" => Reduction::Var,
            "std" => Reduction::Std,
            "min" => Reduction::Min,
            "max" => Reduction::Max,
            "median" => Reduction::Median,
            "nanmedian" => Reduction::Nanmedian,
            _ => return None,
        })
    }

    /// The NumPy name.
    pub fn name(self) -> &'static str {
        match self {
            Reduction::Sum => "sum",
            Reduction::Mean => "mean",
            Reduction::Var => "var",
            Reduction::Std => "std",
            Reduction::Min => "min",
            Reduction::Max => "max",
            Reduction::Median => "median",
            Reduction::Nanmedian => "nanmedian",
        }
    }
}

/// The `cmath` functions kernels may call (NumPy's `exp`, `sqrt`, ..., `angle` on complex
/// numbers are these too).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum CmathFn {
    Exp,
    Log,
    Sqrt,
    Sin,
    Cos,
    Tan,
    Sinh,
    Cosh,
    Tanh,
    Phase,
    Rect,
    Isnan,
    Isinf,
    Isfinite,
}

impl CmathFn {
    /// Look up a function by its `cmath` name (`angle`, NumPy's name of `phase`, too).
    pub fn from_name(name: &str) -> Option<CmathFn> {
        use CmathFn::*;
        Some(match name {
            "exp" => Exp,
            "log" => Log,
            "sqrt" => Sqrt,
            "sin" => Sin,
            "cos" => Cos,
            "tan" => Tan,
            "sinh" => Sinh,
            "cosh" => Cosh,
            "tanh" => Tanh,
            "phase" | "angle" => Phase,
            "rect" => Rect,
            "isnan" => Isnan,
            "isinf" => Isinf,
            "isfinite" => Isfinite,
            _ => return None,
        })
    }

    /// The `math` function of the same name, which the NumPy function is on real numbers.
    pub fn math(self) -> Option<MathFn> {
        use CmathFn::*;
        Some(match self {
            Exp => MathFn::Exp,
            Log => MathFn::Log,
            Sqrt => MathFn::Sqrt,
            Sin => MathFn::Sin,
            Cos => MathFn::Cos,
            Tan => MathFn::Tan,
            Sinh => MathFn::Sinh,
            Cosh => MathFn::Cosh,
            Tanh => MathFn::Tanh,
            Isnan => MathFn::Isnan,
            Isinf => MathFn::Isinf,
            Isfinite => MathFn::Isfinite,
            Phase | Rect => return None,
        })
    }

    /// The name, as `cmath` spells it.
    pub fn name(self) -> &'static str {
        use CmathFn::*;
        match self {
            Exp => "exp",
            Log => "log",
            Sqrt => "sqrt",
            Sin => "sin",
            Cos => "cos",
            Tan => "tan",
            Sinh => "sinh",
            Cosh => "cosh",
            Tanh => "tanh",
            Phase => "phase",
            Rect => "rect",
            Isnan => "isnan",
            Isinf => "isinf",
            Isfinite => "isfinite",
        }
    }
}

/// The NumPy scalar functions that are not `math` functions with NumPy's semantics
/// (those, `np.exp` and the like, are [`MathFn`]s; see docs/semantics.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NpFn {
    /// `np.floor`: a float, not an int as `math.floor` gives.
    Floor,
    /// `np.ceil`.
    Ceil,
    /// `np.trunc`.
    Trunc,
    /// `np.hypot`: the C library's.
    Hypot,
    /// `np.arctan2`: the C library's (a NaN operand's sign is kept, unlike `math.atan2`).
    Arctan2,
    /// `np.minimum`: NaN if either operand is NaN.
    Minimum,
    /// `np.maximum`: NaN if either operand is NaN.
    Maximum,
    /// `np.sign`: -1, 0 or 1 (NaN for NaN), of the operand's type.
    Sign,
}

impl NpFn {
    /// Look up a function by its NumPy name.
    pub fn from_name(name: &str) -> Option<NpFn> {
        Some(match name {
            "floor" => NpFn::Floor,
            "ceil" => NpFn::Ceil,
            "trunc" => NpFn::Trunc,
            "hypot" => NpFn::Hypot,
            "arctan2" => NpFn::Arctan2,
            "minimum" => NpFn::Minimum,
            "maximum" => NpFn::Maximum,
            "sign" => NpFn::Sign,
            _ => return None,
        })
    }

    /// The NumPy name.
    pub fn name(self) -> &'static str {
        match self {
            NpFn::Floor => "floor",
            NpFn::Ceil => "ceil",
            NpFn::Trunc => "trunc",
            NpFn::Hypot => "hypot",
            NpFn::Arctan2 => "arctan2",
            NpFn::Minimum => "minimum",
            NpFn::Maximum => "maximum",
            NpFn::Sign => "sign",
        }
    }

    /// How many arguments it takes.
    pub fn arity(self) -> usize {
        match self {
            NpFn::Hypot | NpFn::Arctan2 | NpFn::Minimum | NpFn::Maximum => 2,
            _ => 1,
        }
    }
}

/// The `math` functions kernels may call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum MathFn {
    Sqrt,
    Exp,
    Expm1,
    Log,
    Log1p,
    Log2,
    Log10,
    Pow,
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    Atan2,
    Sinh,
    Cosh,
    Tanh,
    Floor,
    Ceil,
    Trunc,
    Fabs,
    Hypot,
    Copysign,
    Fmod,
    Erf,
    Erfc,
    Gamma,
    Lgamma,
    Isnan,
    Isinf,
    Isfinite,
}

impl MathFn {
    /// Look up a `math` function by its Python name.
    pub fn from_name(name: &str) -> Option<MathFn> {
        use MathFn::*;
        Some(match name {
            "sqrt" => Sqrt,
            "exp" => Exp,
            "expm1" => Expm1,
            "log" => Log,
            "log1p" => Log1p,
            "log2" => Log2,
            "log10" => Log10,
            "pow" => Pow,
            "sin" => Sin,
            "cos" => Cos,
            "tan" => Tan,
            "asin" => Asin,
            "acos" => Acos,
            "atan" => Atan,
            "atan2" => Atan2,
            "sinh" => Sinh,
            "cosh" => Cosh,
            "tanh" => Tanh,
            "floor" => Floor,
            "ceil" => Ceil,
            "trunc" => Trunc,
            "fabs" => Fabs,
            "hypot" => Hypot,
            "copysign" => Copysign,
            "fmod" => Fmod,
            "erf" => Erf,
            "erfc" => Erfc,
            "gamma" => Gamma,
            "lgamma" => Lgamma,
            "isnan" => Isnan,
            "isinf" => Isinf,
            "isfinite" => Isfinite,
            _ => return None,
        })
    }

    /// How many arguments it takes (`log` takes 1 or 2; this is the minimum).
    pub fn arity(self) -> usize {
        use MathFn::*;
        match self {
            Pow | Atan2 | Hypot | Copysign | Fmod => 2,
            _ => 1,
        }
    }
}

/// One native function a call may go to: its code address and signatures.
#[derive(Clone, Debug)]
pub struct NativeTarget {
    /// What the function is called in messages.
    pub name: String,
    /// The code address.
    pub address: usize,
    /// The signature callers see (without hidden parameters).
    pub visible: Signature,
    /// The signature of the code at `address`.
    pub raw: Signature,
    /// Constant arguments (their bits) at raw parameter positions.
    pub hidden: Vec<(usize, u64)>,
    /// Which visible parameters' arrays the function writes (`None`: unknown, so
    /// every array it is given counts as written).
    pub writes: Option<Vec<bool>>,
    /// The kernel's own IR when the function is a kernel nativecall compiled from it
    /// (with no other entry): what lets a caller inline a small one.
    pub kernel: Option<std::sync::Arc<Function>>,
}

/// A callee with one or more candidate signatures (Cython fused functions have several).
#[derive(Clone, Debug)]
pub struct Overloads {
    /// The name as written.
    pub name: String,
    /// The candidates, in order of preference.
    pub targets: Vec<NativeTarget>,
}

/// What a call goes to.
#[derive(Clone, Debug)]
pub enum Callee {
    /// A builtin or `math` function.
    Builtin(Builtin),
    /// A native function (index into [`Function::natives`]).
    Native(usize),
    /// A local variable or parameter holding a function pointer.
    Local(String),
    /// The kernel itself (recursion).
    SelfCall,
}

/// An expression.
#[derive(Clone, Debug)]
pub enum Expr {
    /// An integer literal (or frozen global), typed `int64`.
    Int(i64, Span),
    /// A float literal (or frozen global), typed `float64`.
    Float(f64, Span),
    /// A complex literal (`2.5j`, or a frozen global): its real and imaginary parts,
    /// typed `complex128`.
    Complex(f64, f64, Span),
    /// `True` / `False`.
    Bool(bool, Span),
    /// `None`: the NULL pointer (typed `void *`, which converts to any pointer).
    Null(Span),
    /// A local variable or parameter.
    Name(String, Span),
    /// A native function used as a value: a function pointer (index into [`Function::natives`]).
    FuncRef(usize, Span),
    /// A unary operation.
    Unary(UnaryOp, Box<Expr>, Span),
    /// A binary operation.
    Binary(BinOp, Box<Expr>, Box<Expr>, Span),
    /// `a < b <= c`: the first operand, then each operator with its right operand.
    Compare(Box<Expr>, Vec<(CmpOp, Expr)>, Span),
    /// `a and b and ...` (`true`) or `a or b or ...` (`false`).
    BoolOp(bool, Vec<Expr>, Span),
    /// `body if test else orelse`: (test, body, orelse).
    IfExp(Box<Expr>, Box<Expr>, Box<Expr>, Span),
    /// A call.
    Call(Callee, Vec<Expr>, Span),
    /// `p[i]` on a pointer, `a[i, j]` on an array.
    Index(Box<Expr>, Vec<Expr>, Span),
    /// `a.shape[k]` (`len(a)` is `a.shape[0]`).
    Shape(Box<Expr>, u32, Span),
    /// `a.ndim`.
    Ndim(Box<Expr>, Span),
    /// `carray(ptr, shape, dtype)` / `farray(...)`: an array view over the memory at
    /// `ptr` (a pointer), of the extents `shape` (one per dimension), element type
    /// `dtype` (the pointee's when `None`), in Fortran order when the flag is set.
    View(Box<Expr>, Vec<Expr>, Option<Type>, bool, Span),
    /// `cast(ptr, type)`: a pointer as another pointer type.
    Cast(Box<Expr>, Type, Span),
    /// A field of a record in memory (`carray(user_data, 1, dtype=rec)[i].field`): the
    /// number of type `ty` at byte `offset` of record `index`, records being `stride`
    /// bytes apart from the pointer `base`. The frontend reads offsets, stride and type
    /// from the record's dtype when the kernel is compiled.
    Field {
        /// The address of record 0 (a pointer).
        base: Box<Expr>,
        /// Which record (an int).
        index: Box<Expr>,
        /// The record's size in bytes.
        stride: i64,
        /// The field's offset in the record, in bytes.
        offset: i64,
        /// The field's type (a number).
        ty: Type,
        /// Where the expression starts.
        span: Span,
    },
}

impl Expr {
    /// The expressions directly inside this one, in evaluation order (for walkers that
    /// treat every kind of node alike but a few).
    pub fn children(&self) -> Vec<&Expr> {
        match self {
            Expr::Int(..)
            | Expr::Float(..)
            | Expr::Complex(..)
            | Expr::Bool(..)
            | Expr::Null(_)
            | Expr::Name(..)
            | Expr::FuncRef(..) => Vec::new(),
            Expr::Unary(_, a, _)
            | Expr::Shape(a, _, _)
            | Expr::Ndim(a, _)
            | Expr::Cast(a, _, _) => {
                vec![a]
            }
            Expr::Binary(_, a, b, _) => vec![a, b],
            Expr::Compare(a, rest, _) => std::iter::once(&**a)
                .chain(rest.iter().map(|(_, e)| e))
                .collect(),
            Expr::BoolOp(_, es, _) | Expr::Call(_, es, _) => es.iter().collect(),
            Expr::IfExp(c, a, b, _) => vec![c, a, b],
            Expr::Index(p, es, _) | Expr::View(p, es, _, _, _) => {
                std::iter::once(&**p).chain(es).collect()
            }
            Expr::Field { base, index, .. } => vec![base, index],
        }
    }

    /// Where the expression starts.
    pub fn span(&self) -> Span {
        match self {
            Expr::Int(_, s)
            | Expr::Float(_, s)
            | Expr::Complex(_, _, s)
            | Expr::Bool(_, s)
            | Expr::Null(s)
            | Expr::Name(_, s)
            | Expr::FuncRef(_, s)
            | Expr::Unary(_, _, s)
            | Expr::Binary(_, _, _, s)
            | Expr::Compare(_, _, s)
            | Expr::BoolOp(_, _, s)
            | Expr::IfExp(_, _, _, s)
            | Expr::Call(_, _, s)
            | Expr::Index(_, _, s)
            | Expr::Shape(_, _, s)
            | Expr::Ndim(_, s)
            | Expr::View(_, _, _, _, s)
            | Expr::Cast(_, _, s)
            | Expr::Field { span: s, .. } => *s,
        }
    }
}

/// A statement.
#[derive(Clone, Debug)]
pub enum Stmt {
    /// `a = e` or `a, b = e1, e2` (all right-hand sides are evaluated first).
    Assign(Vec<String>, Vec<Expr>, Span),
    /// `a op= e`.
    AugAssign(String, BinOp, Expr, Span),
    /// `p[i] = e` / `a[i, j] = e`.
    Store(Expr, Vec<Expr>, Expr, Span),
    /// `p[i] op= e` (the pointer and indices are evaluated once).
    AugStore(Expr, Vec<Expr>, BinOp, Expr, Span),
    /// `if test: body else: orelse`.
    If(Expr, Vec<Stmt>, Vec<Stmt>, Span),
    /// `while test: body else: orelse`.
    While(Expr, Vec<Stmt>, Vec<Stmt>, Span),
    /// `for var in range(start, stop, step): body else: orelse`.
    For {
        /// The loop variable.
        var: String,
        /// `range` start.
        start: Expr,
        /// `range` stop.
        stop: Expr,
        /// `range` step.
        step: Expr,
        /// The loop body.
        body: Vec<Stmt>,
        /// The `else` clause (runs when the loop ends without `break`).
        orelse: Vec<Stmt>,
        /// Where the loop starts.
        span: Span,
    },
    /// `break`.
    Break(Span),
    /// `continue`.
    Continue(Span),
    /// `return` / `return e`.
    Return(Option<Expr>, Span),
    /// An expression evaluated for its effect (a call).
    Expr(Expr, Span),
    /// `pass`.
    Pass,
}

impl Stmt {
    /// The expressions of this statement itself, in evaluation order (a store's target,
    /// indices and value; a loop's bounds), not those of the blocks inside it.
    pub fn exprs(&self) -> Vec<&Expr> {
        match self {
            Stmt::Assign(_, es, _) => es.iter().collect(),
            Stmt::AugAssign(_, _, e, _) | Stmt::Expr(e, _) | Stmt::Return(Some(e), _) => vec![e],
            Stmt::Store(p, idx, v, _) | Stmt::AugStore(p, idx, _, v, _) => std::iter::once(p)
                .chain(idx)
                .chain(std::iter::once(v))
                .collect(),
            Stmt::If(c, ..) | Stmt::While(c, ..) => vec![c],
            Stmt::For {
                start, stop, step, ..
            } => vec![start, stop, step],
            Stmt::Return(None, _) | Stmt::Break(_) | Stmt::Continue(_) | Stmt::Pass => Vec::new(),
        }
    }

    /// The blocks inside this statement (a branch, a loop body and its `else`).
    pub fn blocks(&self) -> [&[Stmt]; 2] {
        match self {
            Stmt::If(_, a, b, _) | Stmt::While(_, a, b, _) => [a, b],
            Stmt::For { body, orelse, .. } => [body, orelse],
            _ => [&[], &[]],
        }
    }
}

/// A kernel: parameters with types, an optional declared return type, the body,
/// and the native callees it references.
#[derive(Clone, Debug)]
pub struct Function {
    /// The function's name.
    pub name: String,
    /// Parameters and their types.
    pub params: Vec<(String, Type)>,
    /// The declared return type; `None` infers it from the `return` statements.
    pub ret: Option<Type>,
    /// The body.
    pub body: Vec<Stmt>,
    /// Native callees referenced by [`Callee::Native`] and [`Expr::FuncRef`].
    pub natives: Vec<Overloads>,
    /// Check every array index (and each array's ndim) and return early, recording an
    /// index error, instead of touching memory outside an array.
    pub boundscheck: bool,
    /// Let floating-point arithmetic be contracted (`a * b + c` as one fused multiply-add,
    /// rounded once) where the host has FMA: Numba's `fastmath=True`, as far as kernels
    /// take it (docs/semantics.md).
    pub fastmath: bool,
    /// The CPython release whose `math` module the kernel follows (the interpreter
    /// compiling it).
    pub python: PythonVersion,
}

/// A CPython release, `major.minor`. Where releases compute a `math` function
/// differently (`hypot`; the NaN of `atan2`), kernels follow the one they are
/// compiled in (see [`runtime::math_helper`](super::runtime::math_helper)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PythonVersion {
    /// 3.
    pub major: u8,
    /// The minor version.
    pub minor: u8,
}

impl PythonVersion {
    /// `major.minor`.
    pub const fn new(major: u8, minor: u8) -> Self {
        PythonVersion { major, minor }
    }
}
