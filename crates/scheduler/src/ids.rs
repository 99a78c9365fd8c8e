//! Resource ids of clone instances.

/// Pacemaker's `clone_strip`: the id without the `:N` a clone instance
/// carries (everything from the first `:`), that is the id as configured
/// and as the history of an anonymous clone is filed under; an id without
/// `:` is returned as it is.
pub fn clone_strip(id: &str) -> &str {
    id.split(':').next().unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::clone_strip;

    #[test]
    fn clone_strip_drops_the_instance_number() {
        assert_eq!(clone_strip("db:2"), "db");
        assert_eq!(clone_strip("db"), "db");
        assert_eq!(clone_strip("grp:0"), "grp");
        assert_eq!(clone_strip("a:1:2"), "a");
        assert_eq!(clone_strip(""), "");
        assert_eq!(clone_strip(":3"), "");
    }
}
