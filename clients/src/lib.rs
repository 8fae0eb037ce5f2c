pub use switchboard::pb;
