// Values as data between a Rust program and its trusted test process (see sandbox/rust_bridge.py).
// The program's process only answers calls ("call the declared function with these arguments");
// the test process holds the test, its expected values and its verdict. Values cross as bytes
// of the declared types and are rebuilt there, so nothing of the program's (a `PartialEq`, a
// macro, a type of its own) takes part in a comparison.
//
// Compiled once per host as a crate of its own (`referee_bridge_lib`, sandbox/pch.py) that both
// executables use, or, without it, appended after the program or the test's declarations: it
// declares nothing outside `referee_bridge`, and names everything by its full path (a program's
// macro or type named like a standard one does not change this code). Frames on the pipes are those of the C++ bridge: a
// little-endian u32 length, then the bytes; a reply starts with 0 (a value) or 1 (a panic).
#[allow(dead_code, unused_imports, unused_macros, unused_mut, unused_variables, unused_unsafe)]
mod referee_bridge {
    use ::std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
    use ::std::io::{Read, Write};
    use ::std::os::unix::io::FromRawFd;
    use ::std::string::String;
    use ::std::vec::Vec;

    const MAX_FRAME: usize = 64 << 20;
    const CALLS_IN: i32 = 3; // the program's side
    const RESULTS_OUT: i32 = 5;
    const TO_PROGRAM: i32 = 3; // the test's side
    const FROM_PROGRAM: i32 = 4;

    /// Ends the test with the reason on stderr, where its verdict reads it.
    pub fn gone(why: &str) -> ! {
        ::std::eprintln!("referee: {}", why);
        ::std::process::exit(86)
    }

    /// A received value, read front to back.
    pub struct Reader {
        data: Vec<u8>,
        at: usize,
    }

    impl Reader {
        pub fn bytes(&mut self, n: usize) -> &[u8] {
            if n > self.data.len() - self.at {
                gone("a value ended early");
            }
            let start = self.at;
            self.at += n;
            &self.data[start..self.at]
        }
        /// A count no larger than what is left (each item takes at least a byte, or is a unit).
        pub fn count(&mut self) -> usize {
            let n = u64::from_le_bytes(self.array::<8>());
            if n > (self.data.len() - self.at) as u64 {
                gone("a count longer than the value");
            }
            n as usize
        }
        pub fn array<const N: usize>(&mut self) -> [u8; N] {
            let mut out = [0u8; N];
            out.copy_from_slice(self.bytes(N));
            out
        }
        fn finished(&self) -> bool {
            self.at == self.data.len()
        }
    }

    /// Written as bytes of its type.
    pub trait Put {
        fn put(&self, out: &mut Vec<u8>);
    }
    /// Rebuilt from those bytes; anything else ends the test ("not of the declared type").
    pub trait Get: Sized {
        fn get(input: &mut Reader) -> Self;
    }

    fn put_count(n: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(&(n as u64).to_le_bytes());
    }

    macro_rules! numbers {
        ($($t:ty),*) => {$(
            impl Put for $t {
                fn put(&self, out: &mut Vec<u8>) { out.extend_from_slice(&self.to_le_bytes()); }
            }
            impl Get for $t {
                fn get(input: &mut Reader) -> Self { <$t>::from_le_bytes(input.array()) }
            }
        )*};
    }
    numbers!(i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize);

    impl Put for f32 {
        fn put(&self, out: &mut Vec<u8>) { self.to_bits().put(out); }
    }
    impl Get for f32 {
        fn get(input: &mut Reader) -> Self { f32::from_bits(u32::get(input)) }
    }
    impl Put for f64 {
        fn put(&self, out: &mut Vec<u8>) { self.to_bits().put(out); }
    }
    impl Get for f64 {
        fn get(input: &mut Reader) -> Self { f64::from_bits(u64::get(input)) }
    }
    impl Put for bool {
        fn put(&self, out: &mut Vec<u8>) { out.push(*self as u8); }
    }
    impl Get for bool {
        fn get(input: &mut Reader) -> Self {
            match input.bytes(1)[0] {
                0 => false,
                1 => true,
                _ => gone("a bool that is neither true nor false"),
            }
        }
    }
    impl Put for char {
        fn put(&self, out: &mut Vec<u8>) { (*self as u32).put(out); }
    }
    impl Get for char {
        fn get(input: &mut Reader) -> Self {
            ::std::char::from_u32(u32::get(input)).unwrap_or_else(|| gone("a char that is not a character"))
        }
    }
    impl Put for str {
        fn put(&self, out: &mut Vec<u8>) {
            put_count(self.len(), out);
            out.extend_from_slice(self.as_bytes());
        }
    }
    impl Put for String {
        fn put(&self, out: &mut Vec<u8>) { self.as_str().put(out); }
    }
    impl Get for String {
        fn get(input: &mut Reader) -> Self {
            let n = input.count();
            String::from_utf8(input.bytes(n).to_vec()).unwrap_or_else(|_| gone("a string that is not UTF-8"))
        }
    }
    impl<T: Put + ?Sized> Put for &T {
        fn put(&self, out: &mut Vec<u8>) { (**self).put(out); }
    }
    impl<T: Put> Put for [T] {
        fn put(&self, out: &mut Vec<u8>) {
            put_count(self.len(), out);
            for item in self {
                item.put(out);
            }
        }
    }
    impl<T: Put> Put for Vec<T> {
        fn put(&self, out: &mut Vec<u8>) { self.as_slice().put(out); }
    }
    // Plain loops rather than iterator adaptors: less generic code for each build to compile.
    impl<T: Get> Get for Vec<T> {
        fn get(input: &mut Reader) -> Self {
            let n = input.count();
            let mut value = Vec::with_capacity(n);
            for _ in 0..n {
                value.push(T::get(input));
            }
            value
        }
    }
    impl<T: Put> Put for Option<T> {
        fn put(&self, out: &mut Vec<u8>) {
            match self {
                None => out.push(0),
                Some(value) => {
                    out.push(1);
                    value.put(out);
                }
            }
        }
    }
    impl<T: Get> Get for Option<T> {
        fn get(input: &mut Reader) -> Self {
            match input.bytes(1)[0] {
                0 => None,
                1 => Some(T::get(input)),
                _ => gone("an Option that is neither None nor Some"),
            }
        }
    }

    macro_rules! collections {
        ($($c:ident < $($p:ident),* >;)*) => {$(
            impl<$($p: Put),*> Put for $c<$($p),*> {
                fn put(&self, out: &mut Vec<u8>) {
                    put_count(self.len(), out);
                    for item in self.iter() {
                        item.put(out); // a map's (&key, &value): the tuple impl below writes the pair
                    }
                }
            }
        )*};
    }
    collections! { HashMap<K, V>; BTreeMap<K, V>; HashSet<T>; BTreeSet<T>; }
    impl<K: Get + Eq + ::std::hash::Hash, V: Get> Get for HashMap<K, V> {
        fn get(input: &mut Reader) -> Self {
            let mut value = HashMap::new();
            for _ in 0..input.count() {
                let key = K::get(input);
                value.insert(key, V::get(input));
            }
            value
        }
    }
    impl<K: Get + Ord, V: Get> Get for BTreeMap<K, V> {
        fn get(input: &mut Reader) -> Self {
            let mut value = BTreeMap::new();
            for _ in 0..input.count() {
                let key = K::get(input);
                value.insert(key, V::get(input));
            }
            value
        }
    }
    impl<T: Get + Eq + ::std::hash::Hash> Get for HashSet<T> {
        fn get(input: &mut Reader) -> Self {
            let mut value = HashSet::new();
            for _ in 0..input.count() {
                value.insert(T::get(input));
            }
            value
        }
    }
    impl<T: Get + Ord> Get for BTreeSet<T> {
        fn get(input: &mut Reader) -> Self {
            let mut value = BTreeSet::new();
            for _ in 0..input.count() {
                value.insert(T::get(input));
            }
            value
        }
    }

    macro_rules! tuples {
        ($(($($t:ident . $i:tt),+))*) => {$(
            impl<$($t: Put),+> Put for ($($t,)+) {
                fn put(&self, out: &mut Vec<u8>) { $(self.$i.put(out);)+ }
            }
            impl<$($t: Get),+> Get for ($($t,)+) {
                fn get(input: &mut Reader) -> Self { ($($t::get(input),)+) }
            }
        )*};
    }
    tuples! {
        (A.0) (A.0, B.1) (A.0, B.1, C.2) (A.0, B.1, C.2, D.3) (A.0, B.1, C.2, D.3, E.4)
        (A.0, B.1, C.2, D.3, E.4, F.5) (A.0, B.1, C.2, D.3, E.4, F.5, G.6) (A.0, B.1, C.2, D.3, E.4, F.5, G.6, H.7)
    }

    /// A value the test's side hands on as a `&'static` one (a declared result that borrows): the
    /// test process is short-lived, so leaking it is harmless.
    pub fn leak<T>(value: T) -> &'static T {
        ::std::boxed::Box::leak(::std::boxed::Box::new(value))
    }
    pub fn leak_str(value: String) -> &'static str {
        ::std::boxed::Box::leak(value.into_boxed_str())
    }

    fn pipe(fd: i32) -> ::std::mem::ManuallyDrop<::std::fs::File> {
        // Safety: the fd is one of the bridge's pipes, open for the whole process; never closed here.
        ::std::mem::ManuallyDrop::new(unsafe { ::std::fs::File::from_raw_fd(fd) })
    }

    fn send_frame(fd: i32, data: &[u8]) -> bool {
        if data.len() > MAX_FRAME {
            return false;
        }
        let mut file = pipe(fd);
        let mut frame = (data.len() as u32).to_le_bytes().to_vec();
        frame.extend_from_slice(data);
        file.write_all(&frame).is_ok()
    }

    fn recv_frame(fd: i32) -> Option<Vec<u8>> {
        let mut file = pipe(fd);
        let mut head = [0u8; 4];
        file.read_exact(&mut head).ok()?;
        let n = u32::from_le_bytes(head) as usize;
        if n > MAX_FRAME {
            return None;
        }
        let mut data = ::std::vec![0u8; n];
        file.read_exact(&mut data).ok()?;
        Some(data)
    }

    fn panic_message(payload: &(dyn ::std::any::Any + Send)) -> String {
        if let Some(text) = payload.downcast_ref::<&str>() {
            (*text).to_string()
        } else if let Some(text) = payload.downcast_ref::<String>() {
            text.clone()
        } else {
            String::from("a panic without a message")
        }
    }

    /// The program's side: answer calls until the test is over.
    pub fn serve(answer: fn(&mut Reader, &mut Vec<u8>)) {
        while let Some(data) = recv_frame(CALLS_IN) {
            let mut out = ::std::vec![0u8];
            let mut input = Reader { data, at: 0 };
            let outcome = ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| answer(&mut input, &mut out)));
            if let Err(payload) = outcome {
                out = ::std::vec![1u8];
                out.extend_from_slice(panic_message(&*payload).as_bytes());
            }
            if !send_frame(RESULTS_OUT, &out) {
                return;
            }
        }
    }

    /// The test's side: one call into the program; its result, or the program's panic as a panic here.
    pub fn call(args: &[u8]) -> Reader {
        let reply = if send_frame(TO_PROGRAM, args) { recv_frame(FROM_PROGRAM) } else { None };
        let reply = match reply {
            Some(reply) if !reply.is_empty() => reply,
            _ => gone("the program exited during the tests"),
        };
        if reply[0] != 0 {
            let message = String::from_utf8_lossy(&reply[1..]);
            let cut: String = message.chars().take(400).collect();
            ::std::panic!("the program panicked: {}", cut);
        }
        Reader { data: reply, at: 1 }
    }

    /// The test's side: the whole reply is one value of the declared type.
    pub fn result<T: Get>(mut reply: Reader) -> T {
        let value = T::get(&mut reply);
        if !reply.finished() {
            gone("a result longer than its declared type");
        }
        value
    }

    /// The test's side, in a plain binary: each panic as one line on stderr (where the verdict
    /// reads the reason), with the line numbers of the test code when it is there.
    pub fn report_panics(test_code_line: u32) {
        ::std::panic::set_hook(::std::boxed::Box::new(move |info| {
            let message = panic_message(info.payload()).replace('\n', " ");
            let place = match info.location() {
                Some(at) if at.line() >= test_code_line => ::std::format!("test:{}", at.line() - test_code_line + 1),
                Some(at) => ::std::format!("{}:{}", at.file(), at.line()),
                None => String::from("test"),
            };
            ::std::eprintln!("{}: panicked: {}", place, message);
        }));
    }
}
