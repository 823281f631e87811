//! The `xitdb` command-line tool (work in progress).

fn main() {
    println!("xitdb command-line tool");
}
