//! `easel-emulator`: run the fake providers by hand, to try Easel against
//! them without keys or network:
//!
//!   easel-emulator [--openai-port 9101] [--key sk-emulator]
//!   EASEL_OPENAI_BASE_URL=http://127.0.0.1:9101/v1 OPENAI_API_KEY=sk-emulator easel-cli ...

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (mut port, mut key) = (9101u16, "sk-emulator".to_string());
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--openai-port", Some(v)) => match v.parse() {
                Ok(p) => port = p,
                Err(_) => {
                    eprintln!("error: --openai-port takes a port number");
                    return ExitCode::from(2);
                }
            },
            ("--key", Some(v)) => key = v,
            _ => {
                eprintln!("usage: easel-emulator [--openai-port PORT] [--key KEY]");
                return ExitCode::from(2);
            }
        }
    }
    let openai = match easel_emulator::openai::start(&key, port).await {
        Ok(running) => running,
        Err(e) => {
            eprintln!("error: cannot listen on 127.0.0.1:{port}: {e}");
            return ExitCode::from(1);
        }
    };
    println!("openai: {} (key {key})", openai.base_url);
    let _ = tokio::signal::ctrl_c().await;
    ExitCode::SUCCESS
}
