//! Include patterns, as nginx `include` and Apache `Include` take them: a path whose
//! components may hold `*` and `?` (no `[...]` classes, no `**`). Matches come back sorted, as
//! both servers read them.

use std::path::{Component, Path, PathBuf};

/// At most this many names are looked at in one directory.
const MAX_DIRECTORY_ENTRIES: usize = 4096;

/// Whether `text` holds a wildcard.
pub(crate) fn has_wildcard(text: &str) -> bool {
    text.contains(['*', '?'])
}

/// The files that `pattern` (absolute) names, sorted, at most `limit`. A pattern without
/// wildcards names itself, whether it exists or not (the caller reports a missing file). A
/// wildcard matches no name that starts with `.` unless the pattern component does.
pub(crate) fn expand(pattern: &Path, limit: usize) -> Vec<PathBuf> {
    if !has_wildcard(&pattern.to_string_lossy()) {
        return vec![pattern.to_path_buf()];
    }
    let mut current = vec![PathBuf::new()];
    for component in pattern.components() {
        let Component::Normal(name) = component else {
            for path in &mut current {
                path.push(component.as_os_str());
            }
            continue;
        };
        let name = name.to_string_lossy();
        if !has_wildcard(&name) {
            for path in &mut current {
                path.push(name.as_ref());
            }
            continue;
        }
        let mut next = Vec::new();
        for dir in &current {
            let Ok(entries) = std::fs::read_dir(dir) else { continue };
            let mut matched: Vec<PathBuf> = entries
                .take(MAX_DIRECTORY_ENTRIES)
                .filter_map(|entry| entry.ok())
                .filter(|entry| {
                    let entry_name = entry.file_name();
                    let entry_name = entry_name.to_string_lossy();
                    (!entry_name.starts_with('.') || name.starts_with('.'))
                        && wildcard_match(&name, &entry_name)
                })
                .map(|entry| entry.path())
                .collect();
            matched.sort();
            next.extend(matched);
            if next.len() >= limit {
                break;
            }
        }
        next.truncate(limit);
        current = next;
    }
    current.sort();
    current
}

/// Whether `name` matches `pattern` (`*`: any run of characters, `?`: one character). Linear
/// backtracking on the last `*`: O(len(pattern) × len(name)) at worst.
pub(crate) fn wildcard_match(pattern: &str, name: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, n));
                p += 1;
            }
            Some(c) if *c == '?' || *c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((star_p, star_n)) => {
                    p = star_p + 1;
                    n = star_n + 1;
                    star = Some((star_p, star_n + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_like_fnmatch() {
        assert!(wildcard_match("*.conf", "default.conf"));
        assert!(wildcard_match("a?c*", "abcdef"));
        assert!(wildcard_match("*", ""));
        assert!(!wildcard_match("*.conf", "default.conf.bak"));
        assert!(!wildcard_match("a?c", "ac"));
        assert!(wildcard_match("*a*b*c", "xxaxxbxxc"));
    }

    #[test]
    fn expands_sorted_and_skips_hidden_files() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.conf", "a.conf", ".hidden.conf", "c.txt"] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        let found = expand(&dir.path().join("*.conf"), 10);
        assert_eq!(found, vec![dir.path().join("a.conf"), dir.path().join("b.conf")]);
        assert_eq!(expand(&dir.path().join("*.conf"), 1).len(), 1);
        assert!(expand(&dir.path().join("missing/*.conf"), 10).is_empty());
    }
}
