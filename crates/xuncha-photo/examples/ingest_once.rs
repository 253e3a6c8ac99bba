//! Ingests one file and writes the two outputs, for `benches/photo-bench.sh` to time as a process
//! beside vipsthumbnail and ImageMagick: `ingest_once IN STORED_OUT THUMB_OUT`.
//! A refused file prints its error code on stderr and exits with status 2.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, stored_out, thumb_out] = args.as_slice() else {
        eprintln!("usage: ingest_once IN STORED_OUT THUMB_OUT");
        std::process::exit(64);
    };
    let bytes = std::fs::read(input).expect("read input");
    match xuncha_photo::ingest(&bytes) {
        Ok(p) => {
            std::fs::write(stored_out, &p.stored).expect("write stored");
            std::fs::write(thumb_out, &p.thumbnail).expect("write thumbnail");
        }
        Err(e) => {
            eprintln!("{}", e.user_message().code);
            std::process::exit(2);
        }
    }
}
