//! A small bit-flag newtype: corosync's `#define` flag words as types.

/// Declares `pub struct $name(pub u32)` with the given flag constants and set operations.
macro_rules! bit_flags {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $flag:ident = $bit:expr;)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name(pub u32);

        impl $name {
            $($(#[$fmeta])* pub const $flag: $name = $name($bit);)*

            /// All bits of `f` are set.
            pub fn contains(self, f: $name) -> bool {
                self.0 & f.0 == f.0
            }
            /// Some bit of `f` is set.
            pub fn intersects(self, f: $name) -> bool {
                self.0 & f.0 != 0
            }
            pub fn insert(&mut self, f: $name) {
                self.0 |= f.0;
            }
            pub fn remove(&mut self, f: $name) {
                self.0 &= !f.0;
            }
            pub fn set(&mut self, f: $name, on: bool) {
                if on {
                    self.insert(f)
                } else {
                    self.remove(f)
                }
            }
        }

        impl std::ops::BitOr for $name {
            type Output = $name;
            fn bitor(self, o: $name) -> $name {
                $name(self.0 | o.0)
            }
        }
    };
}

pub(crate) use bit_flags;

#[cfg(test)]
mod tests {
    bit_flags!(Demo {
        A = 1;
        B = 2;
    });

    #[test]
    fn operations() {
        let mut f = Demo::default();
        f.set(Demo::A, true);
        assert!(f.contains(Demo::A) && !f.contains(Demo::A | Demo::B));
        assert!(f.intersects(Demo::A | Demo::B));
        f.insert(Demo::B);
        assert_eq!(f, Demo(3));
        f.set(Demo::A, false);
        assert_eq!(f, Demo::B);
    }
}
