//! Git ref names.

/// Is `name` usable as a branch name? Git's ref-name rules (gix's
/// validation), and what `git check-ref-format --branch` adds: no leading
/// `-` (an option to the `git` binary) and not `@` (its name for HEAD).
pub fn valid_branch(name: &str) -> bool {
    !name.starts_with('-')
        && name != "@"
        && gix::validate::reference::branch_name(format!("refs/heads/{name}").as_str().into())
            .is_ok()
}
