//! `easel-emulator`: run the fake providers by hand, to try Easel against
//! them without keys or network:
//!
//!   easel-emulator [--openai-port 9101] [--replicate-port 9102] [--key sk-emulator]
//!   EASEL_OPENAI_BASE_URL=http://127.0.0.1:9101/v1 OPENAI_API_KEY=sk-emulator easel-cli ...
//!   EASEL_REPLICATE_BASE_URL=http://127.0.0.1:9102/v1 REPLICATE_API_TOKEN=sk-emulator easel-cli ...

use std::process::ExitCode;

const USAGE: &str =
    "usage: easel-emulator [--openai-port PORT] [--replicate-port PORT] [--key KEY]";

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (mut openai_port, mut replicate_port) = (9101u16, 9102u16);
    let mut key = "sk-emulator".to_string();
    while let Some(arg) = args.next() {
        let value = args.next();
        let port = || value.as_deref().and_then(|v| v.parse::<u16>().ok());
        match arg.as_str() {
            "--openai-port" if port().is_some() => openai_port = port().unwrap_or_default(),
            "--replicate-port" if port().is_some() => replicate_port = port().unwrap_or_default(),
            "--key" if value.is_some() => key = value.unwrap_or_default(),
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let openai = match easel_emulator::openai::start(&key, openai_port).await {
        Ok(running) => running,
        Err(e) => {
            eprintln!("error: cannot listen on 127.0.0.1:{openai_port}: {e}");
            return ExitCode::from(1);
        }
    };
    let replicate = match easel_emulator::replicate::start(&key, replicate_port).await {
        Ok(running) => running,
        Err(e) => {
            eprintln!("error: cannot listen on 127.0.0.1:{replicate_port}: {e}");
            return ExitCode::from(1);
        }
    };
    println!("openai: {} (key {key})", openai.base_url);
    println!("replicate: {} (key {key})", replicate.base_url);
    let _ = tokio::signal::ctrl_c().await;
    ExitCode::SUCCESS
}
