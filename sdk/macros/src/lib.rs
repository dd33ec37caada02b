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
/// `env = "..."`, `clock`, `random`.
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

fn expand(options: Options, func: ItemFn) -> syn::Result<TokenStream2> {
    let fn_ident = &func.sig.ident;
    let mut node_name = unraw(fn_ident);
    let mut capabilities = Vec::new();
    for meta in &options.0 {
        let key = meta.path().get_ident().map(ToString::to_string).unwrap_or_default();
        match key.as_str() {
            "name" => node_name = string_value(meta)?.value(),
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
                     write_dir = \"..\", env = \"..\", clock, random",
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
        input_defs.push(quote! {
            InputDef {
                name: #name,
                ty: <#ty as ::weavelet_sdk::FromValue>::TYPE,
                optional: <#ty as ::weavelet_sdk::FromValue>::OPTIONAL,
            }
        });
        takes.push(quote!(let #var = inputs.take::<#ty>(#name)?;));
        args.push(var);
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
