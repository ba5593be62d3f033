//! `easel-cli key …`: provider API keys from the command line. A key goes
//! in through stdin (never an argument, which `ps` and shell history would
//! keep) and never comes out: `list` says which providers have one and
//! where it comes from.

use clap::Subcommand;
use easel_engine::{Engine, EngineError, KeyState};
use std::io::Read;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Store PROVIDER's key (read from stdin) in the OS keychain.
    Set { provider: String },
    /// Ask PROVIDER whether its key (environment, else keychain) works.
    Check { provider: String },
    /// Remove PROVIDER's key from the OS keychain.
    Delete { provider: String },
    /// Which providers have a key, and from where.
    List,
}

pub async fn run(engine: &Engine, command: KeyCommand) -> Result<ExitCode, EngineError> {
    match command {
        KeyCommand::Set { provider } => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).map_err(|e| {
                EngineError::InvalidInput(format!("cannot read the key from stdin: {e}"))
            })?;
            let info = engine.set_api_key(&provider, &text).await?;
            println!("{}: {}", info.id, describe(&info.key));
            Ok(ExitCode::SUCCESS)
        }
        KeyCommand::Check { provider } => {
            let check = engine.test_api_key(&provider, None).await?;
            println!("{}", check.message);
            Ok(if check.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        KeyCommand::Delete { provider } => {
            let info = engine.delete_api_key(&provider).await?;
            println!("{}: {}", info.id, describe(&info.key));
            Ok(ExitCode::SUCCESS)
        }
        KeyCommand::List => {
            for info in engine.provider_infos().await {
                if info.capabilities.needs_key {
                    println!("{}\t{}", info.id, describe(&info.key));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn describe(state: &KeyState) -> String {
    match state {
        KeyState::NotNeeded => "needs no key".into(),
        KeyState::Missing => "no key".into(),
        KeyState::Stored => "key in the keychain".into(),
        KeyState::Environment { variable } => format!("key from ${variable} (not stored)"),
        KeyState::Unavailable { message } => format!("keychain unavailable: {message}"),
    }
}
