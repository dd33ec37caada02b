//! The `#[weavelet::node]` attribute: turns a plain function into a Weavelet
//! node whose input names are the function's parameter names.
//!
//! Use it through `weavelet_sdk`, which documents it.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{
    Expr, ExprLit, FnArg, Ident, ItemFn, Lit, LitStr, Meta, Pat, ReturnType, Token, parse_macro_input,
};

/// Marks a function as a Weavelet node. Parameter names become input names,
/// the doc comment becomes the node's doc, and `Result` errors fail the node.
///
/// Options: `name = "..."`, `read_dir = "..."`, `write_dir = "..."`,
/// `env = "..."`, `clock`, `random`, `columns(input = "col: type, ...")`
/// (columns a table input requires), `output_columns = "col: type, ..."`.
#[proc_macro_attribute]
pub fn node(attr: TokenStream, item: TokenStream) -> TokenStream {
    let options = parse_macro_input!(attr as Options);
    let func = parse_macro_input!(item as ItemFn);
    expand(options, func).unwrap_or_else(|e| e.to_compile_error()).into()
}

struct Options(Punctuated<Meta, Token![,]>);

impl Parse for Options {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        Ok(Options(Punctuated::parse_terminated(input)?))
    }
}

fn string_value(meta: &Meta) -> syn::Result<LitStr> {
    match meta {
        Meta::NameValue(nv) => match &nv.value {
            Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) => Ok(s.clone()),
            other => Err(syn::Error::new_spanned(other, "expected a string literal")),
        },
        other => Err(syn::Error::new_spanned(other, "expected `option = \"value\"`")),
    }
}

/// The column types a requirement may name (the host checks them again).
const COLUMN_TYPES: &[&str] = &[
    "any", "int", "integer", "float", "number", "numeric", "text", "string", "str", "bool", "boolean",
    "date", "datetime", "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "f32", "f64",
];

/// `"region: text, revenue: float"` as `(name, type)` tokens; a missing type is `any`.
fn column_list(spec: &LitStr) -> syn::Result<Vec<TokenStream2>> {
    let mut out = Vec::new();
    for part in spec.value().split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, ty) = match part.split_once(':') {
            Some((n, t)) => (n.trim().to_string(), t.trim().to_string()),
            None => (part.to_string(), "any".to_string()),
        };
        if !COLUMN_TYPES.contains(&ty.as_str()) {
            return Err(syn::Error::new_spanned(
                spec,
                format!("unknown column type `{ty}` for `{name}`; use one of: {}", COLUMN_TYPES.join(", ")),
            ));
        }
        out.push(quote!((#name, #ty)));
    }
    Ok(out)
}

fn expand(options: Options, func: ItemFn) -> syn::Result<TokenStream2> {
    let fn_ident = &func.sig.ident;
    let mut node_name = unraw(fn_ident);
    let mut capabilities = Vec::new();
    let mut input_columns: Vec<(String, Vec<TokenStream2>, Span)> = Vec::new();
    let mut output_columns = Vec::new();
    for meta in &options.0 {
        let key = meta.path().get_ident().map(ToString::to_string).unwrap_or_default();
        match key.as_str() {
            "name" => node_name = string_value(meta)?.value(),
            "output_columns" => output_columns = column_list(&string_value(meta)?)?,
            "columns" => {
                let Meta::List(list) = meta else {
                    return Err(syn::Error::new_spanned(
                        meta,
                        "expected `columns(input = \"col: type, ...\")`",
                    ));
                };
                let entries =
                    list.parse_args_with(Punctuated::<syn::MetaNameValue, Token![,]>::parse_terminated)?;
                for entry in entries {
                    let input = entry.path.get_ident().map(unraw).unwrap_or_default();
                    let spec = match &entry.value {
                        Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) => s.clone(),
                        other => return Err(syn::Error::new_spanned(other, "expected a string literal")),
                    };
                    input_columns.push((
                        input,
                        column_list(&spec)?,
                        syn::spanned::Spanned::span(&entry.path),
                    ));
                }
            }
            "read_dir" => {
                let v = string_value(meta)?;
                capabilities.push(quote!(CapabilityDef::ReadDir(#v)));
            }
            "write_dir" => {
                let v = string_value(meta)?;
                capabilities.push(quote!(CapabilityDef::WriteDir(#v)));
            }
            "env" => {
                let v = string_value(meta)?;
                capabilities.push(quote!(CapabilityDef::Env(#v)));
            }
            "clock" | "random" if matches!(meta, Meta::Path(_)) => {
                let variant = Ident::new(if key == "clock" { "Clock" } else { "Random" }, Span::call_site());
                capabilities.push(quote!(CapabilityDef::#variant));
            }
            _ => {
                return Err(syn::Error::new_spanned(
                    meta,
                    "unknown node option; expected one of: name = \"..\", read_dir = \"..\", \
                     write_dir = \"..\", env = \"..\", clock, random, columns(input = \"..\"), \
                     output_columns = \"..\"",
                ));
            }
        }
    }

    if let Some(asyncness) = &func.sig.asyncness {
        return Err(syn::Error::new_spanned(asyncness, "a Weavelet node cannot be async"));
    }
    if !func.sig.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(&func.sig.generics, "a Weavelet node cannot be generic"));
    }

    let mut input_defs = Vec::new();
    let mut takes = Vec::new();
    let mut args = Vec::new();
    for (i, arg) in func.sig.inputs.iter().enumerate() {
        let FnArg::Typed(pat_type) = arg else {
            return Err(syn::Error::new_spanned(arg, "a Weavelet node is a free function, not a method"));
        };
        let Pat::Ident(pat_ident) = &*pat_type.pat else {
            return Err(syn::Error::new_spanned(
                &pat_type.pat,
                "node parameters must be plain names: the name is the input's name",
            ));
        };
        let name = unraw(&pat_ident.ident);
        let ty = &pat_type.ty;
        let var = Ident::new(&format!("__input_{i}"), Span::call_site());
        let columns =
            input_columns.iter().find(|(n, _, _)| *n == name).map(|(_, c, _)| c.clone()).unwrap_or_default();
        input_defs.push(quote! {
            InputDef {
                name: #name,
                ty: <#ty as ::weavelet_sdk::FromValue>::TYPE,
                optional: <#ty as ::weavelet_sdk::FromValue>::OPTIONAL,
                columns: &[#(#columns),*],
            }
        });
        takes.push(quote!(let #var = inputs.take::<#ty>(#name)?;));
        args.push(var);
    }

    for (input, _, span) in &input_columns {
        let known = func.sig.inputs.iter().any(|arg| {
            matches!(arg, FnArg::Typed(p) if matches!(&*p.pat, Pat::Ident(i) if unraw(&i.ident) == *input))
        });
        if !known {
            return Err(syn::Error::new(
                *span,
                format!("`columns` names `{input}`, which is not a parameter of this node"),
            ));
        }
    }

    let output = match &func.sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => quote!(#ty),
    };
    let doc = doc_comment(&func);
    let vis = &func.vis;

    Ok(quote! {
        #func

        #[doc(hidden)]
        #[allow(non_camel_case_types, dead_code)]
        #vis struct #fn_ident {}

        impl ::weavelet_sdk::__private::Node for #fn_ident {
            const DEF: ::weavelet_sdk::__private::NodeDef = {
                use ::weavelet_sdk::__private::{CapabilityDef, InputDef, Inputs, NodeDef};
                fn run(inputs: &mut Inputs) -> ::std::result::Result<::weavelet_sdk::Value, ::weavelet_sdk::NodeError> {
                    #(#takes)*
                    <#output as ::weavelet_sdk::NodeOutput>::into_result(#fn_ident(#(#args),*))
                }
                NodeDef {
                    name: #node_name,
                    doc: #doc,
                    inputs: &[#(#input_defs),*],
                    output: <#output as ::weavelet_sdk::NodeOutput>::TYPE,
                    output_columns: &[#(#output_columns),*],
                    capabilities: &[#(#capabilities),*],
                    run,
                }
            };
        }
    })
}

fn unraw(ident: &Ident) -> String {
    let s = ident.to_string();
    s.strip_prefix("r#").map(str::to_string).unwrap_or(s)
}

fn doc_comment(func: &ItemFn) -> String {
    let lines: Vec<String> = func
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        })
        .map(|line| line.strip_prefix(' ').map(str::to_string).unwrap_or(line))
        .collect();
    lines.join("\n").trim().to_string()
}
