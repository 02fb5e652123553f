//! The default store: the seed lives in this process only, as in the
//! reference Flask server. Nothing is persisted and instances do not agree.

use std::sync::RwLock;

use async_trait::async_trait;

use super::{Store, StoreError};
use crate::seed::Seed;

/// One seed per process, lost on exit.
#[derive(Debug, Default)]
pub struct MemoryStore {
    seed: RwLock<Seed>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn get(&self) -> Result<Seed, StoreError> {
        // A poisoned lock still holds a whole seed: writers only ever swap in
        // a complete value, so recover it rather than fail every request.
        let seed = self
            .seed
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(seed.clone())
    }

    async fn put(&self, seed: &Seed) -> Result<(), StoreError> {
        let mut current = self
            .seed
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *current = seed.clone();
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
        store.put(&"42".parse().unwrap()).await.unwrap();
        store.put(&"-9".parse().unwrap()).await.unwrap();
        assert_eq!(store.get().await.unwrap().as_str(), "-9");
    }
}
