//! Deleting jobs and single images, and undoing it. The record is marked
//! first and the files then go to the system trash (a crash between leaves
//! a hidden job whose files are still in the library: nothing is lost);
//! Undo brings the files back and clears the mark. The janitor forgets
//! marks older than a day.

use crate::engine::Engine;
use crate::error::EngineError;
use crate::library::trash;
use crate::model::JobSummary;
use crate::store::deletions as d;
use crate::store::jobs as q;
use crate::store::now_ms;
use std::path::PathBuf;

impl Engine {
    /// Delete jobs with their images (the files go to the system trash).
    /// A waiting or held job is canceled first; one a worker is running
    /// cannot be deleted: cancel it first. Returns the ids deleted.
    pub async fn delete(&self, ids: Vec<String>) -> Result<Vec<String>, EngineError> {
        let mut deleted = Vec::new();
        for id in ids {
            let job = self.get(&id).await?;
            if job.deleted {
                continue;
            }
            if job.status.is_running() && !job.held {
                return Err(EngineError::WrongState {
                    id: job.id,
                    status: job.status,
                    action: "delete",
                });
            }
            if !job.status.is_terminal() {
                self.cancel(&id).await?;
            }
            let files = self.image_files(&id).await?;
            let key = id.clone();
            let Some(marked) = self
                .shared
                .db(move |s| s.write(|tx| d::mark_job(tx, &key, now_ms())))
                .await?
            else {
                continue;
            };
            if let Err(e) = blocking(move || trash::move_to_trash(&files)).await? {
                let key = id.clone();
                if let Some(back) = self
                    .shared
                    .db(move |s| s.write(|tx| d::unmark_job(tx, &key, now_ms())))
                    .await?
                {
                    self.shared.publish(&back);
                }
                return Err(e.into());
            }
            tracing::info!(job_id = %id, "job deleted (files in the trash)");
            self.shared.publish(&marked);
            deleted.push(id);
        }
        Ok(deleted)
    }

    /// Undo a delete: bring the jobs' files back from the trash and show
    /// them again. A job not deleted is returned as it is.
    pub async fn undo_delete(&self, ids: Vec<String>) -> Result<Vec<JobSummary>, EngineError> {
        let mut out = Vec::new();
        for id in ids {
            let job = self.get(&id).await?;
            if !job.deleted {
                out.push(job);
                continue;
            }
            let files = self.image_files(&id).await?;
            blocking(move || trash::restore(&files)).await??;
            let key = id.clone();
            let restored = self
                .shared
                .db(move |s| s.write(|tx| d::unmark_job(tx, &key, now_ms())))
                .await?;
            let job = match restored {
                Some(job) => {
                    tracing::info!(job_id = %id, "deleted job restored");
                    self.shared.publish(&job);
                    job
                }
                None => self.get(&id).await?,
            };
            out.push(job);
        }
        Ok(out)
    }

    /// Delete one image of a job (its file goes to the trash). Deleting a
    /// job's last image deletes the job. Returns the job as it is now.
    pub async fn delete_image(&self, id: &str, index: u32) -> Result<JobSummary, EngineError> {
        let (job, assets) = self.job_with_assets(id).await?;
        if job.deleted {
            return Err(EngineError::NotFound(format!("{id} (deleted)")));
        }
        let Some(asset) = assets.iter().find(|a| a.output_index == index) else {
            return Err(EngineError::NotFound(format!("{id} image {}", index + 1)));
        };
        if assets.len() == 1 {
            self.delete(vec![id.to_string()]).await?;
            return self.get(id).await;
        }
        let file = PathBuf::from(&asset.path);
        let key = id.to_string();
        let Some(job) = self
            .shared
            .db(move |s| s.write(|tx| d::mark_image(tx, &key, index, now_ms())))
            .await?
        else {
            return self.get(id).await;
        };
        if let Err(e) = blocking(move || trash::move_to_trash(&[file])).await? {
            let key = id.to_string();
            if let Some(back) = self
                .shared
                .db(move |s| s.write(|tx| d::unmark_image(tx, &key, index, now_ms())))
                .await?
            {
                self.shared.publish(&back);
            }
            return Err(e.into());
        }
        tracing::info!(job_id = %id, image = index, "image deleted (file in the trash)");
        self.shared.publish(&job);
        Ok(job)
    }

    /// Undo deleting one image: its file comes back from the trash.
    pub async fn undo_delete_image(&self, id: &str, index: u32) -> Result<JobSummary, EngineError> {
        let key = id.to_string();
        let Some((path, deleted)) = self
            .shared
            .db(move |s| s.read(|c| d::image(c, &key, index)))
            .await?
        else {
            return Err(EngineError::NotFound(format!("{id} image {}", index + 1)));
        };
        if !deleted {
            return self.get(id).await;
        }
        let file = PathBuf::from(path);
        blocking(move || trash::restore(&[file])).await??;
        let key = id.to_string();
        let restored = self
            .shared
            .db(move |s| s.write(|tx| d::unmark_image(tx, &key, index, now_ms())))
            .await?;
        match restored {
            Some(job) => {
                self.shared.publish(&job);
                Ok(job)
            }
            None => self.get(id).await,
        }
    }

    /// Mark or unmark one image as a favorite (the job is a favorite while
    /// any of its images is).
    pub async fn set_image_favorite(
        &self,
        id: &str,
        index: u32,
        favorite: bool,
    ) -> Result<JobSummary, EngineError> {
        let key = id.to_string();
        let changed = self
            .shared
            .db(move |s| s.write(|tx| d::set_image_favorite(tx, &key, index, favorite, now_ms())))
            .await?;
        match changed {
            Some(job) => {
                self.shared.publish(&job);
                Ok(job)
            }
            None => {
                let (job, assets) = self.job_with_assets(id).await?;
                if assets.iter().any(|a| a.output_index == index) {
                    Ok(job)
                } else {
                    Err(EngineError::NotFound(format!("{id} image {}", index + 1)))
                }
            }
        }
    }

    /// The files of a job's visible images.
    async fn image_files(&self, id: &str) -> Result<Vec<PathBuf>, EngineError> {
        let key = id.to_string();
        let assets = self
            .shared
            .db(move |s| s.read(|c| q::assets(c, &key)))
            .await?;
        Ok(assets.iter().map(|a| PathBuf::from(&a.path)).collect())
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, EngineError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| EngineError::Shutdown)
}
