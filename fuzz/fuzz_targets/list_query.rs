//! List query strings as clients send them: parsing never panics, what it accepts is
//! within bounds, and the search of an accepted query becomes FTS5 expressions that
//! SQLite runs without a syntax error (no text of the user reaches FTS5 as syntax).
#![no_main]

use std::ffi::{c_int, CStr, CString};

use libfuzzer_sys::fuzz_target;
use libsqlite3_sys as ffi;
use shared::domain::list::MAX_PAGE_SIZE;
use shared::domain::ListQuery;
use shared::store::sqlite::search_expressions;

fuzz_target!(|data: &[u8]| {
    // As the `QueryPairs` extractor reads a query string.
    let pairs: Vec<(String, String)> = form_urlencoded::parse(data).into_owned().collect();
    let Ok(query) = ListQuery::parse(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))) else {
        return;
    };
    assert!((1..=MAX_PAGE_SIZE).contains(&query.page_size));
    assert!(query.page >= 1);
    if let Some(search) = &query.search {
        FTS5.with(|fts5| {
            for expression in search_expressions(search) {
                fts5.check(&expression);
            }
        });
    }
});

thread_local! {
    static FTS5: Fts5 = Fts5::open();
}

/// An in-memory SQLite with the store's FTS5 table (migrations/sqlite, `tasks_fts`).
struct Fts5 {
    db: *mut ffi::sqlite3,
    select: *mut ffi::sqlite3_stmt,
}

impl Fts5 {
    fn open() -> Fts5 {
        let mut db = std::ptr::null_mut();
        let name = CString::new(":memory:").unwrap();
        // SAFETY: plain SQLite C API calls on a connection this thread owns.
        unsafe {
            assert_eq!(ffi::sqlite3_open(name.as_ptr(), &mut db), ffi::SQLITE_OK);
            let setup = CString::new(
                "create virtual table tasks_fts using fts5 (document, \
                 tokenize = 'porter unicode61 remove_diacritics 0'); \
                 insert into tasks_fts (document) values ('pay the rent home bills 2026');",
            )
            .unwrap();
            let rc = ffi::sqlite3_exec(
                db,
                setup.as_ptr(),
                None,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            );
            assert_eq!(rc, ffi::SQLITE_OK, "{}", message(db));
            let sql = CString::new("select count(*) from tasks_fts where tasks_fts match ?1").unwrap();
            let mut select = std::ptr::null_mut();
            let rc = ffi::sqlite3_prepare_v2(db, sql.as_ptr(), -1, &mut select, std::ptr::null_mut());
            assert_eq!(rc, ffi::SQLITE_OK, "{}", message(db));
            Fts5 { db, select }
        }
    }

    /// Runs `expression` as a MATCH; panics with SQLite's message when it fails.
    fn check(&self, expression: &str) {
        let len = c_int::try_from(expression.len()).unwrap();
        // SAFETY: the statement belongs to this connection; SQLITE_TRANSIENT copies the text.
        unsafe {
            ffi::sqlite3_reset(self.select);
            let rc = ffi::sqlite3_bind_text(
                self.select,
                1,
                expression.as_ptr().cast(),
                len,
                ffi::SQLITE_TRANSIENT(),
            );
            assert_eq!(rc, ffi::SQLITE_OK);
            let rc = ffi::sqlite3_step(self.select);
            assert_eq!(
                rc,
                ffi::SQLITE_ROW,
                "FTS5 refused {expression:?}: {}",
                message(self.db)
            );
        }
    }
}

fn message(db: *mut ffi::sqlite3) -> String {
    // SAFETY: SQLite returns a NUL-terminated string it owns.
    unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(db)) }
        .to_string_lossy()
        .into_owned()
}
