//! `render`: every stack template with its parameters and hash, and the alarm definitions,
//! optionally written to a directory.

use std::path::PathBuf;

use super::Session;
use crate::error::Error;
use crate::render::RenderedEnv;

pub struct Request {
    pub out: Option<PathBuf>,
}

pub struct Outcome {
    pub environment: String,
    pub rendered: RenderedEnv,
    pub out_dir: Option<PathBuf>,
    pub files_written: usize,
}

pub async fn run(session: &Session<'_>, request: Request) -> Result<Outcome, Error> {
    let loaded = session.load_env()?;
    let rendered = super::steps::render_checked(&loaded)?;
    let files_written = match &request.out {
        Some(dir) => rendered
            .write_to(dir)
            .map_err(|source| Error::Write {
                path: dir.clone(),
                source,
                nothing_written: true,
            })?
            .len(),
        None => 0,
    };
    Ok(Outcome {
        environment: loaded.config.environment.name.clone(),
        rendered,
        out_dir: request.out,
        files_written,
    })
}
