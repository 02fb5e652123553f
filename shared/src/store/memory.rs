//! The default store: the seed in this process only, as in the Flask server.

use std::sync::Mutex;

use async_trait::async_trait;

use super::{Store, StoreError};
use crate::seed::Seed;

/// One seed per process, lost on exit.
#[derive(Debug, Default)]
pub struct MemoryStore {
    seed: Mutex<Seed>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn get(&self) -> Result<Seed, StoreError> {
        Ok(crate::lock(&self.seed).clone())
    }

    async fn put(&self, seed: &Seed) -> Result<(), StoreError> {
        *crate::lock(&self.seed) = seed.clone();
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "memory"
    }

    fn is_shared(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn starts_at_zero_and_keeps_the_last_write() {
        let store = MemoryStore::new();
        assert_eq!(store.get().await.unwrap(), Seed::zero());
        store
            .put(&Seed::from_integer_literal("42").unwrap())
            .await
            .unwrap();
        store
            .put(&Seed::from_integer_literal("-9").unwrap())
            .await
            .unwrap();
        assert_eq!(store.get().await.unwrap().as_str(), "-9");
    }
}
