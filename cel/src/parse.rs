//! CEL's grammar (cel-spec langdef.md), by recursive descent, into a tree
//! whose nodes keep their place in the source. Macros (`has`, `all`,
//! `exists`, `exists_one`, `map`, `filter`) become nodes of their own here,
//! as cel-spec expands them at parse. Nesting is limited ([`MAX_DEPTH`]).

use crate::lex::{self, Tok, Token};
use crate::regex::Regex;
use crate::value::Value;
use crate::CompileError;

/// How deep expressions may nest: cel-go refuses past 250 (its default);
/// a check needs a handful, and each level costs the evaluator stack.
pub const MAX_DEPTH: usize = 64;

#[derive(Debug)]
pub struct Node {
    pub expr: Expr,
    /// Byte offsets of the source this node was parsed from.
    pub span: (usize, usize),
    /// The tree's height below and with this node: at most MAX_DEPTH, so
    /// that checking, evaluating and dropping it, all recursive, stay
    /// shallow (`1+1+...+1` is a chain, not a nesting, yet as deep).
    pub height: usize,
}

impl Expr {
    /// The tallest child's height.
    fn child_height(&self) -> usize {
        let h = |n: &Node| n.height;
        match self {
            Expr::Literal(_) | Expr::Ident(_) => 0,
            Expr::Select(a, _) | Expr::Has(a, _) | Expr::Not(a) | Expr::Neg(a) => h(a),
            Expr::MatchesLiteral(a, _) => h(a),
            Expr::Index(a, b) | Expr::Binary(_, a, b) | Expr::And(a, b) | Expr::Or(a, b) => {
                h(a).max(h(b))
            }
            Expr::Cond(a, b, c) => h(a).max(h(b)).max(h(c)),
            Expr::Call(_, args) | Expr::List(args) => args.iter().map(h).max().unwrap_or(0),
            Expr::Map(entries) => entries
                .iter()
                .map(|(k, v)| h(k).max(h(v)))
                .max()
                .unwrap_or(0),
            Expr::Comprehension {
                range,
                test,
                transform,
                ..
            } => {
                let parts = [Some(&**range), test.as_deref(), transform.as_deref()];
                parts.into_iter().flatten().map(h).max().unwrap_or(0)
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
}

impl Op {
    /// cel-spec's name of the operator, as errors say it.
    pub fn name(self) -> &'static str {
        match self {
            Op::Add => "_+_",
            Op::Sub => "_-_",
            Op::Mul => "_*_",
            Op::Div => "_/_",
            Op::Rem => "_%_",
            Op::Eq => "_==_",
            Op::Ne => "_!=_",
            Op::Lt => "_<_",
            Op::Le => "_<=_",
            Op::Gt => "_>_",
            Op::Ge => "_>=_",
            Op::In => "@in",
        }
    }
}

/// The functions of the subset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Func {
    Size,
    Contains,
    StartsWith,
    EndsWith,
    Matches,
    Int,
    Uint,
    Double,
    String,
    Bool,
    Type,
    Dyn,
    Duration,
    Timestamp,
}

impl Func {
    fn named(name: &str) -> Option<Func> {
        Some(match name {
            "size" => Func::Size,
            "contains" => Func::Contains,
            "startsWith" => Func::StartsWith,
            "endsWith" => Func::EndsWith,
            "matches" => Func::Matches,
            "int" => Func::Int,
            "uint" => Func::Uint,
            "double" => Func::Double,
            "string" => Func::String,
            "bool" => Func::Bool,
            "type" => Func::Type,
            "dyn" => Func::Dyn,
            "duration" => Func::Duration,
            "timestamp" => Func::Timestamp,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Func::Size => "size",
            Func::Contains => "contains",
            Func::StartsWith => "startsWith",
            Func::EndsWith => "endsWith",
            Func::Matches => "matches",
            Func::Int => "int",
            Func::Uint => "uint",
            Func::Double => "double",
            Func::String => "string",
            Func::Bool => "bool",
            Func::Type => "type",
            Func::Dyn => "dyn",
            Func::Duration => "duration",
            Func::Timestamp => "timestamp",
        }
    }

    /// Whether it is called as `x.f(...)` (true) or `f(x, ...)`: cel-spec
    /// declares `size` and `matches` both ways, the rest one way only.
    fn takes(self, member: bool) -> bool {
        match self {
            Func::Size | Func::Matches => true,
            Func::Contains | Func::StartsWith | Func::EndsWith => member,
            _ => !member,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Macro {
    All,
    Exists,
    ExistsOne,
    Map,
    Filter,
}

#[derive(Debug)]
pub enum Expr {
    Literal(Value),
    /// A variable, a comprehension's variable, or a type's name (`int`).
    Ident(String),
    Select(Box<Node>, String),
    /// `has(operand.field)`.
    Has(Box<Node>, String),
    Index(Box<Node>, Box<Node>),
    /// A function: its receiver first when called as a method.
    Call(Func, Vec<Node>),
    /// `matches` with a literal pattern, compiled at start.
    MatchesLiteral(Box<Node>, Box<Regex>),
    List(Vec<Node>),
    Map(Vec<(Node, Node)>),
    Binary(Op, Box<Node>, Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Not(Box<Node>),
    Neg(Box<Node>),
    Cond(Box<Node>, Box<Node>, Box<Node>),
    Comprehension {
        kind: Macro,
        var: String,
        range: Box<Node>,
        /// The predicate (all, exists, exists_one, filter, map's filter).
        test: Option<Box<Node>>,
        /// map's transform.
        transform: Option<Box<Node>>,
    },
}

pub fn parse(source: &str) -> Result<Node, CompileError> {
    let tokens = lex::tokens(source)?;
    let mut parser = Parser {
        source,
        tokens,
        at: 0,
        depth: 0,
    };
    let node = parser.expr()?;
    let next = parser.peek();
    if next.tok != Tok::End {
        return Err(parser.error_here("an operator or the end of the expression"));
    }
    Ok(node)
}

/// The conjuncts of `a && b && c`, left to right.
pub fn conjuncts<'a>(node: &'a Node, out: &mut Vec<&'a Node>) {
    match &node.expr {
        Expr::And(left, right) => {
            conjuncts(left, out);
            conjuncts(right, out);
        }
        _ => out.push(node),
    }
}

struct Parser<'s> {
    source: &'s str,
    tokens: Vec<Token>,
    at: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.tokens[self.at]
    }

    fn next(&mut self) -> Token {
        let token = self.tokens[self.at].clone();
        if token.tok != Tok::End {
            self.at += 1;
        }
        token
    }

    fn is(&self, op: &str) -> bool {
        matches!(&self.peek().tok, Tok::Op(o) if *o == op)
    }

    fn eat(&mut self, op: &str) -> bool {
        let found = self.is(op);
        if found {
            self.at += 1;
        }
        found
    }

    fn error_here(&self, expected: &str) -> CompileError {
        let token = self.peek();
        let found = match &token.tok {
            Tok::End => "the end".to_string(),
            _ => format!("'{}'", &self.source[token.start..token.end]),
        };
        lex::error(
            self.source,
            token.start,
            format!("expected {expected}, found {found}"),
        )
    }

    fn expect(&mut self, op: &str) -> Result<(), CompileError> {
        if self.eat(op) {
            Ok(())
        } else {
            Err(self.error_here(&format!("'{op}'")))
        }
    }

    fn node(&self, expr: Expr, start: usize) -> Result<Node, CompileError> {
        let end = self.tokens[self.at.saturating_sub(1)].end.max(start);
        leaf_or_taller(self.source, expr, (start, end))
    }

    fn deeper(&mut self) -> Result<(), CompileError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let at = self.peek().start;
            return Err(lex::error(
                self.source,
                at,
                format!("the expression nests deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<Node, CompileError> {
        self.deeper()?;
        let start = self.peek().start;
        let condition = self.or()?;
        let node = if self.eat("?") {
            let then = self.or()?;
            self.expect(":")?;
            let otherwise = self.expr()?;
            self.node(
                Expr::Cond(Box::new(condition), Box::new(then), Box::new(otherwise)),
                start,
            )?
        } else {
            condition
        };
        self.depth -= 1;
        Ok(node)
    }

    fn or(&mut self) -> Result<Node, CompileError> {
        let start = self.peek().start;
        let mut left = self.and()?;
        while self.eat("||") {
            let right = self.and()?;
            left = self.node(Expr::Or(Box::new(left), Box::new(right)), start)?;
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Node, CompileError> {
        let start = self.peek().start;
        let mut left = self.relation()?;
        while self.eat("&&") {
            let right = self.relation()?;
            left = self.node(Expr::And(Box::new(left), Box::new(right)), start)?;
        }
        Ok(left)
    }

    fn relation(&mut self) -> Result<Node, CompileError> {
        let start = self.peek().start;
        let mut left = self.addition()?;
        loop {
            let op = match &self.peek().tok {
                Tok::Op("==") => Op::Eq,
                Tok::Op("!=") => Op::Ne,
                Tok::Op("<") => Op::Lt,
                Tok::Op("<=") => Op::Le,
                Tok::Op(">") => Op::Gt,
                Tok::Op(">=") => Op::Ge,
                Tok::Ident(word) if word == "in" => Op::In,
                _ => return Ok(left),
            };
            self.at += 1;
            let right = self.addition()?;
            left = self.node(Expr::Binary(op, Box::new(left), Box::new(right)), start)?;
        }
    }

    fn addition(&mut self) -> Result<Node, CompileError> {
        let start = self.peek().start;
        let mut left = self.multiplication()?;
        loop {
            let op = match self.peek().tok {
                Tok::Op("+") => Op::Add,
                Tok::Op("-") => Op::Sub,
                _ => return Ok(left),
            };
            self.at += 1;
            let right = self.multiplication()?;
            left = self.node(Expr::Binary(op, Box::new(left), Box::new(right)), start)?;
        }
    }

    fn multiplication(&mut self) -> Result<Node, CompileError> {
        let start = self.peek().start;
        let mut left = self.unary()?;
        loop {
            let op = match self.peek().tok {
                Tok::Op("*") => Op::Mul,
                Tok::Op("/") => Op::Div,
                Tok::Op("%") => Op::Rem,
                _ => return Ok(left),
            };
            self.at += 1;
            let right = self.unary()?;
            left = self.node(Expr::Binary(op, Box::new(left), Box::new(right)), start)?;
        }
    }

    fn unary(&mut self) -> Result<Node, CompileError> {
        let start = self.peek().start;
        // `!!x` is `x` and `--x` is `x`: the grammar's `"!"+ Member`, with
        // pairs cancelled, as cel-spec's parser does.
        for (op, negate) in [("!", true), ("-", false)] {
            let mut count = 0;
            while self.eat(op) {
                count += 1;
            }
            if count == 0 {
                continue;
            }
            if !negate && count % 2 == 1 {
                // `-9223372036854775808` is a literal: its magnitude alone is no int.
                if let Tok::Int(magnitude) = self.peek().tok {
                    let follows_member = matches!(
                        self.tokens.get(self.at + 1).map(|t| &t.tok),
                        Some(Tok::Op("." | "["))
                    );
                    if !follows_member {
                        self.at += 1;
                        return self.node(Expr::Literal(Value::Int((-magnitude) as i64)), start);
                    }
                }
            }
            self.deeper()?;
            let operand = self.member()?;
            self.depth -= 1;
            if count % 2 == 0 {
                return Ok(operand);
            }
            let expr = if negate {
                Expr::Not(Box::new(operand))
            } else {
                Expr::Neg(Box::new(operand))
            };
            return self.node(expr, start);
        }
        self.member()
    }

    fn member(&mut self) -> Result<Node, CompileError> {
        let start = self.peek().start;
        let mut node = self.primary()?;
        loop {
            if self.eat(".") {
                let name_at = self.peek().start;
                let Tok::Ident(name) = self.next().tok else {
                    self.at -= 1;
                    return Err(self.error_here("a field or method name"));
                };
                if self.eat("(") {
                    let args = self.arguments()?;
                    node = self.method(node, &name, args, start, name_at)?;
                } else {
                    node = self.node(Expr::Select(Box::new(node), name), start)?;
                }
            } else if self.eat("[") {
                let index = self.expr()?;
                self.expect("]")?;
                node = self.node(Expr::Index(Box::new(node), Box::new(index)), start)?;
            } else {
                return Ok(node);
            }
        }
    }

    /// The arguments after `(`, and the `)`.
    fn arguments(&mut self) -> Result<Vec<Node>, CompileError> {
        let mut args = Vec::new();
        if self.eat(")") {
            return Ok(args);
        }
        loop {
            args.push(self.expr()?);
            if self.eat(")") {
                return Ok(args);
            }
            self.expect(",")?;
        }
    }

    fn method(
        &mut self,
        receiver: Node,
        name: &str,
        mut args: Vec<Node>,
        start: usize,
        name_at: usize,
    ) -> Result<Node, CompileError> {
        let kind = match name {
            "all" => Some(Macro::All),
            "exists" => Some(Macro::Exists),
            "exists_one" => Some(Macro::ExistsOne),
            "map" => Some(Macro::Map),
            "filter" => Some(Macro::Filter),
            _ => None,
        };
        if let Some(kind) = kind {
            let arity_ok = match kind {
                Macro::Map => args.len() == 2 || args.len() == 3,
                _ => args.len() == 2,
            };
            if !arity_ok {
                return Err(lex::error(
                    self.source,
                    name_at,
                    format!("{name}() takes a variable and an expression"),
                ));
            }
            let var = match &args[0].expr {
                Expr::Ident(var) => var.clone(),
                _ => {
                    return Err(lex::error(
                        self.source,
                        args[0].span.0,
                        format!("{name}()'s first argument must be a simple name"),
                    ))
                }
            };
            let mut rest = args.drain(1..);
            let first = rest.next().map(Box::new);
            let second = rest.next().map(Box::new);
            let (test, transform) = match kind {
                Macro::Map if second.is_some() => (first, second),
                Macro::Map => (None, first),
                _ => (first, None),
            };
            drop(rest);
            return self.node(
                Expr::Comprehension {
                    kind,
                    var,
                    range: Box::new(receiver),
                    test,
                    transform,
                },
                start,
            );
        }
        let func = Func::named(name)
            .filter(|f| f.takes(true))
            .ok_or_else(|| unsupported(self.source, name_at, name))?;
        args.insert(0, receiver);
        self.call(func, args, start, name_at)
    }

    fn call(
        &mut self,
        func: Func,
        args: Vec<Node>,
        start: usize,
        name_at: usize,
    ) -> Result<Node, CompileError> {
        let want = match func {
            Func::Contains | Func::StartsWith | Func::EndsWith | Func::Matches => 2,
            _ => 1,
        };
        if args.len() != want {
            return Err(lex::error(
                self.source,
                name_at,
                format!(
                    "{}() takes {} argument{}",
                    func.name(),
                    want,
                    if want == 1 { "" } else { "s" }
                ),
            ));
        }
        if func == Func::Matches {
            if let Expr::Literal(Value::String(pattern)) = &args[1].expr {
                let regex = Regex::new(pattern).map_err(|why| {
                    lex::error(
                        self.source,
                        args[1].span.0,
                        format!("invalid regular expression: {why}"),
                    )
                })?;
                let mut args = args;
                let text = args.swap_remove(0);
                return self.node(Expr::MatchesLiteral(Box::new(text), Box::new(regex)), start);
            }
        }
        self.node(Expr::Call(func, args), start)
    }

    fn primary(&mut self) -> Result<Node, CompileError> {
        self.primary_inner()
    }

    fn primary_inner(&mut self) -> Result<Node, CompileError> {
        let token = self.next();
        let start = token.start;
        let literal = |value| {
            Ok(Node {
                expr: Expr::Literal(value),
                span: (token.start, token.end),
                height: 1,
            })
        };
        match token.tok {
            Tok::Int(v) => match i64::try_from(v) {
                Ok(v) => literal(Value::Int(v)),
                Err(_) => Err(lex::error(self.source, start, "invalid int literal")),
            },
            Tok::Uint(v) => literal(Value::Uint(v)),
            Tok::Double(v) => literal(Value::Double(v)),
            Tok::Str(text) => literal(Value::string(text)),
            Tok::Ident(word) => match word.as_str() {
                "true" => literal(Value::Bool(true)),
                "false" => literal(Value::Bool(false)),
                "null" => literal(Value::Null),
                "in" => Err(lex::error(self.source, start, "expected an operand, found 'in'")),
                _ if self.eat("(") => {
                    let args = self.arguments()?;
                    if word == "has" {
                        return match args.as_slice() {
                            [Node { expr: Expr::Select(..), .. }] => {
                                let Some(Node { expr: Expr::Select(operand, field), .. }) = args.into_iter().next() else {
                                    unreachable!("matched above")
                                };
                                self.node(Expr::Has(operand, field), start)
                            }
                            _ => Err(lex::error(self.source, start, "has() takes a field selection, such as has(body.status)")),
                        };
                    }
                    let func = Func::named(&word).filter(|f| f.takes(false)).ok_or_else(|| unsupported(self.source, start, &word))?;
                    self.call(func, args, start, start)
                }
                _ => Ok(Node { expr: Expr::Ident(word), span: (token.start, token.end), height: 1 }),
            },
            Tok::Op("(") => {
                let inner = self.expr()?;
                self.expect(")")?;
                Ok(Node { expr: inner.expr, span: (start, self.tokens[self.at - 1].end), height: inner.height })
            }
            Tok::Op("[") => {
                let mut items = Vec::new();
                while !self.eat("]") {
                    items.push(self.expr()?);
                    if !self.eat(",") {
                        self.expect("]")?;
                        break;
                    }
                }
                self.node(Expr::List(items), start)
            }
            Tok::Op("{") => {
                let mut entries = Vec::new();
                while !self.eat("}") {
                    let key = self.expr()?;
                    self.expect(":")?;
                    let value = self.expr()?;
                    entries.push((key, value));
                    if !self.eat(",") {
                        self.expect("}")?;
                        break;
                    }
                }
                self.node(Expr::Map(entries), start)
            }
            Tok::Op(".") => Err(lex::error(
                self.source,
                start,
                "a leading '.' (a name in the root container) is outside the CEL subset sidecars supports",
            )),
            _ => {
                self.at -= usize::from(token.tok != Tok::End);
                Err(self.error_here("an operand"))
            }
        }
    }
}

/// A node over `expr`, refused when the tree grows past MAX_DEPTH.
fn leaf_or_taller(source: &str, expr: Expr, span: (usize, usize)) -> Result<Node, CompileError> {
    let height = expr.child_height() + 1;
    if height > MAX_DEPTH {
        return Err(lex::error(
            source,
            span.0,
            format!("the expression nests deeper than {MAX_DEPTH} levels"),
        ));
    }
    Ok(Node { expr, span, height })
}

fn unsupported(source: &str, at: usize, name: &str) -> CompileError {
    lex::error(
        source,
        at,
        format!("the function '{name}' is outside the CEL subset sidecars supports (docs/cel.md lists it)"),
    )
}
