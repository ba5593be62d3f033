//! Boards as the app uses them: create, rename and delete boards, save the
//! gallery's filters as a smart board, put images on a board and take them
//! off. Stored in SQLite like everything else (`store::boards`).

use crate::engine::Engine;
use crate::error::EngineError;
use crate::model::{Board, ImageRef, ListQuery};
use crate::store::boards as b;
use crate::store::{now_ms, search_index};

const MAX_NAME_CHARS: usize = 80;

fn board_name(name: &str) -> Result<String, EngineError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(EngineError::InvalidInput("a board needs a name".into()));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(EngineError::InvalidInput(format!(
            "a board name can be at most {MAX_NAME_CHARS} characters"
        )));
    }
    Ok(name.to_string())
}

/// What a smart board keeps of a gallery filter: the filter itself, not
/// paging or another board.
fn smart_filter(q: ListQuery) -> ListQuery {
    ListQuery {
        before: None,
        limit: None,
        board: None,
        held: None,
        search: q.search.filter(|s| !s.trim().is_empty()),
        ..q
    }
}

impl Engine {
    /// Every board, by name, with its count. A smart board's search
    /// counts new jobs too: the search index is brought up to date first.
    pub async fn boards(&self) -> Result<Vec<Board>, EngineError> {
        self.shared
            .db(|s| {
                search_index::up_to_date(s)?;
                s.read(b::list)
            })
            .await
    }

    /// Create a board; with `filter`, a smart board that shows what matches it.
    pub async fn create_board(
        &self,
        name: &str,
        filter: Option<ListQuery>,
    ) -> Result<Board, EngineError> {
        let name = board_name(name)?;
        let filter = filter.map(smart_filter);
        let key = name.clone();
        let id = self
            .shared
            .db(move |s| s.write(|tx| b::create(tx, &key, filter.as_ref(), now_ms())))
            .await?
            .ok_or_else(|| {
                EngineError::InvalidInput(format!("there is already a board named {name:?}"))
            })?;
        self.board(id).await
    }

    pub async fn rename_board(&self, id: i64, name: &str) -> Result<Board, EngineError> {
        let name = board_name(name)?;
        self.board(id).await?;
        let key = name.clone();
        let renamed = self
            .shared
            .db(move |s| s.write(|tx| b::rename(tx, id, &key)))
            .await?;
        if !renamed {
            return Err(EngineError::InvalidInput(format!(
                "there is already a board named {name:?}"
            )));
        }
        self.board(id).await
    }

    /// Delete a board (its images stay in the library).
    pub async fn delete_board(&self, id: i64) -> Result<(), EngineError> {
        let gone = self
            .shared
            .db(move |s| s.write(|tx| b::delete(tx, id)))
            .await?;
        if gone {
            Ok(())
        } else {
            Err(EngineError::NotFound(format!("board {id}")))
        }
    }

    /// Put images on a board (a whole job: all its images).
    pub async fn add_to_board(&self, id: i64, images: Vec<ImageRef>) -> Result<Board, EngineError> {
        let board = self.board(id).await?;
        if board.filter.is_some() {
            return Err(EngineError::InvalidInput(format!(
                "{:?} is a smart board: it shows what matches its filters",
                board.name
            )));
        }
        for image in &images {
            self.get(&image.job_id).await?;
        }
        self.shared
            .db(move |s| {
                s.write(|tx| {
                    let now = now_ms();
                    for image in &images {
                        b::add(tx, id, &image.job_id, image.output_index, now)?;
                    }
                    Ok(())
                })
            })
            .await?;
        self.board(id).await
    }

    /// Take images off a board (a whole job: all its images).
    pub async fn remove_from_board(
        &self,
        id: i64,
        images: Vec<ImageRef>,
    ) -> Result<Board, EngineError> {
        self.board(id).await?;
        self.shared
            .db(move |s| {
                s.write(|tx| {
                    for image in &images {
                        b::remove(tx, id, &image.job_id, image.output_index)?;
                    }
                    Ok(())
                })
            })
            .await?;
        self.board(id).await
    }

    /// Which of a job's images are on a board.
    pub async fn images_on_board(&self, id: i64, job_id: &str) -> Result<Vec<u32>, EngineError> {
        let job = job_id.to_string();
        self.shared
            .db(move |s| s.read(|c| b::images_on(c, id, &job)))
            .await
    }

    async fn board(&self, id: i64) -> Result<Board, EngineError> {
        self.shared
            .db(move |s| {
                search_index::up_to_date(s)?;
                s.read(|c| b::get(c, id))
            })
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("board {id}")))
    }
}
