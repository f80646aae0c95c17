//! The shape of templates' text, checked before Tera parses it: Tera's parser and renderer
//! recurse once per level of nesting and per operator of an expression, so a deep enough
//! text overflows the stack (an abort, not an error). Within these limits a render fits in
//! the render threads' stack many times over (`bound::Limits`); real templates stay far
//! below them (the deepest nests 5 blocks, the longest tag has 128 characters).

use std::collections::{BTreeMap, BTreeSet};

/// Bytes of one template file (CloudFormation's own limit on a template is 1 MB).
pub const MAX_FILE_BYTES: usize = 1 << 20;
/// Characters of one `{{ }}` or `{% %}` tag.
const MAX_TAG_CHARS: usize = 2_000;
/// Levels of `if`, `for`, `macro`, `filter`, `block` inside each other.
const MAX_NESTING: usize = 24;

/// What is wrong with a template's text, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub line: usize,
    pub message: String,
    pub help: &'static str,
}

/// Checks each template's text alone, then the imports between them.
pub fn check(templates: &[(String, String)]) -> Result<(), Problem> {
    for (name, text) in templates {
        check_one(name, text)?;
    }
    import_cycle(templates).map_or(Ok(()), Err)
}

fn check_one(name: &str, text: &str) -> Result<(), Problem> {
    let problem = |offset: usize, message: String, help| Problem {
        file: name.to_string(),
        line: line_of(text, offset),
        message,
        help,
    };
    if text.len() > MAX_FILE_BYTES {
        return Err(problem(
            0,
            format!(
                "the template has {} bytes; templates may have at most {MAX_FILE_BYTES}",
                text.len()
            ),
            "split it into partials",
        ));
    }
    let mut depth = 0usize;
    let mut in_raw = false;
    for tag in tags(text) {
        let body = &text[tag.start..tag.end];
        if body.chars().count() > MAX_TAG_CHARS {
            return Err(problem(
                tag.start,
                format!(
                    "a tag of {} characters; tags may have at most {MAX_TAG_CHARS}",
                    body.chars().count()
                ),
                "split the expression into steps with `{% set %}`",
            ));
        }
        if !tag.statement {
            continue;
        }
        let keyword = keyword(body);
        if in_raw {
            in_raw = keyword != "endraw";
            continue;
        }
        match keyword {
            "raw" => in_raw = true,
            "if" | "for" | "macro" | "filter" | "block" => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(problem(
                        tag.start,
                        format!(
                            "blocks nest {depth} deep here; templates may nest at most {MAX_NESTING}"
                        ),
                        "move the inner part into a macro or a partial, or flatten the conditions",
                    ));
                }
            }
            k if k.starts_with("end") => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// A tag's span in the text: from its opening `{` to its closing `}`.
struct Tag {
    start: usize,
    end: usize,
    statement: bool,
}

/// The `{{ }}` and `{% %}` tags of a text, comments skipped. An unclosed tag runs to the end
/// (Tera reports it; the length check still applies).
fn tags(text: &str) -> impl Iterator<Item = Tag> + '_ {
    let bytes = text.as_bytes();
    let mut at = 0;
    std::iter::from_fn(move || {
        loop {
            let open = at + text.get(at..)?.find('{')?;
            let closer = match bytes.get(open + 1) {
                Some(b'{') => "}}",
                Some(b'%') => "%}",
                Some(b'#') => "#}",
                _ => {
                    at = open + 1;
                    continue;
                }
            };
            let end = text[open + 2..]
                .find(closer)
                .map_or(text.len(), |i| open + 2 + i + 2);
            at = end;
            if closer == "#}" {
                continue;
            }
            return Some(Tag {
                start: open,
                end,
                statement: closer == "%}",
            });
        }
    })
}

/// `{%- for x in y -%}` -> `for`.
fn keyword(tag: &str) -> &str {
    tag.trim_start_matches("{%")
        .trim_start_matches('-')
        .trim_start()
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .next()
        .unwrap_or("")
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Tera resolves `{% import %}` while it parses, without a depth limit: a template that
/// imports itself, or imports that lead back, overflow the stack before any check on the
/// parsed templates could run. Found here on the text.
fn import_cycle(templates: &[(String, String)]) -> Option<Problem> {
    let mut imports: BTreeMap<&str, Vec<(String, usize)>> = BTreeMap::new();
    for (name, text) in templates {
        let found = tags(text)
            .filter(|t| t.statement)
            .filter_map(|t| {
                let body = &text[t.start..t.end];
                if keyword(body) == "import" {
                    Some((imported(body)?, line_of(text, t.start)))
                } else {
                    None
                }
            })
            .collect();
        imports.insert(name.as_str(), found);
    }
    let mut done = BTreeSet::new();
    for start in imports.keys() {
        let mut path = Vec::new();
        if let Some(problem) = visit(start, &imports, &mut path, &mut done) {
            return Some(problem);
        }
    }
    None
}

/// The quoted file name of an import tag.
fn imported(tag: &str) -> Option<String> {
    let quote = tag.find(['"', '\''])?;
    let mark = &tag[quote..=quote];
    let rest = &tag[quote + 1..];
    Some(rest[..rest.find(mark)?].to_string())
}

fn visit<'a>(
    file: &'a str,
    imports: &'a BTreeMap<&'a str, Vec<(String, usize)>>,
    path: &mut Vec<&'a str>,
    done: &mut BTreeSet<&'a str>,
) -> Option<Problem> {
    if done.contains(file) {
        return None;
    }
    path.push(file);
    for (next, line) in imports.get(file).into_iter().flatten() {
        if let Some(at) = path.iter().position(|p| p == next) {
            let mut chain: Vec<&str> = path[at..].to_vec();
            chain.push(next);
            return Some(Problem {
                file: file.to_string(),
                line: *line,
                message: format!("recursive import: {}", chain.join(" -> ")),
                help: "templates may not import themselves or each other in a cycle: move the shared macros into a partial that imports nothing",
            });
        }
        if let Some((key, _)) = imports.get_key_value(next.as_str())
            && let Some(problem) = visit(key, imports, path, done)
        {
            return Some(problem);
        }
    }
    path.pop();
    done.insert(file);
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Result<(), Problem> {
        check(&[("stacks/t.yaml.tera".to_string(), text.to_string())])
    }

    #[test]
    fn the_repository_templates_are_well_within_the_limits() {
        let mut templates = Vec::new();
        for dir in ["templates/stacks", "templates/partials", "templates/alarms"] {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let name = format!("{dir}/{}", entry.file_name().to_string_lossy());
                templates.push((name, std::fs::read_to_string(entry.path()).unwrap()));
            }
        }
        assert!(templates.len() > 10);
        assert_eq!(check(&templates), Ok(()));
    }

    #[test]
    fn deep_nesting_is_refused_at_the_line_that_goes_too_deep() {
        let nested = |n: usize| "{% if true %}\n".repeat(n) + "x\n" + &"{% endif %}\n".repeat(n);
        assert_eq!(one(&nested(MAX_NESTING)), Ok(()));
        let error = one(&nested(1000)).unwrap_err();
        assert_eq!(error.line, MAX_NESTING + 1);
        assert!(error.message.contains("nest 25 deep"), "{}", error.message);
        let fors = "{%- for i in [1] -%}".repeat(500) + &"{%- endfor -%}".repeat(500);
        assert!(one(&fors).is_err());
        // Siblings do not add up, and raw text and comments are not tags.
        let siblings = "{% if a %}x{% endif %}".repeat(100);
        assert_eq!(one(&siblings), Ok(()));
        let raw = "{% raw %}".to_string() + &"{% if a %}".repeat(100) + "{% endraw %}";
        assert_eq!(one(&raw), Ok(()));
        let comment = "{# ".to_string() + &"{% if a %}".repeat(100) + " #}";
        assert_eq!(one(&comment), Ok(()));
    }

    #[test]
    fn long_expressions_and_files_are_refused() {
        let parens = format!("a\n{{{{ {}1{} }}}}", "(".repeat(10_000), ")".repeat(10_000));
        let error = one(&parens).unwrap_err();
        assert_eq!(error.line, 2);
        let sum = format!("{{{{ 1{} }}}}", " + 1".repeat(5_000));
        assert!(one(&sum).is_err());
        let unclosed = format!("{{{{ {}", "x".repeat(MAX_TAG_CHARS));
        assert!(one(&unclosed).is_err());
        assert!(one(&"#".repeat(MAX_FILE_BYTES + 1)).is_err());
        assert_eq!(one(&format!("{{{{ 1{} }}}}", " + 1".repeat(100))), Ok(()));
    }

    #[test]
    fn imports_that_lead_back_are_refused_before_tera_parses_them() {
        let error = one("{% import \"stacks/t.yaml.tera\" as m %}\nx").unwrap_err();
        assert_eq!(error.line, 1);
        assert!(
            error.message.contains("recursive import"),
            "{}",
            error.message
        );
        let pair = [
            (
                "partials/a.tera".to_string(),
                "\n{%- import 'partials/b.tera' as b -%}".to_string(),
            ),
            (
                "partials/b.tera".to_string(),
                "{% import \"partials/a.tera\" as a %}".to_string(),
            ),
        ];
        let error = check(&pair).unwrap_err();
        assert!(
            error
                .message
                .contains("partials/a.tera -> partials/b.tera -> partials/a.tera"),
            "{}",
            error.message
        );
        let fine = [
            (
                "stacks/s.tera".to_string(),
                "{% import \"partials/a.tera\" as a %}".to_string(),
            ),
            (
                "partials/a.tera".to_string(),
                "{% macro m() %}1{% endmacro m %}".to_string(),
            ),
        ];
        assert_eq!(check(&fine), Ok(()));
    }
}
