// sqlite3_db_config is variadic, so Swift cannot call it: these wrappers give TraceStore's reader
// SQLite's defensive settings for files that may come from strangers.
#include <sqlite3.h>

/// Turns on defensive mode and turns off schema-borne code (triggers, views, untrusted schema functions).
/// Returns 0 when every setting was applied, else the first failing sqlite3_db_config result code.
static inline int plexlab_sqlite_harden(sqlite3 *db) {
    int rc = SQLITE_OK;
#ifdef SQLITE_DBCONFIG_DEFENSIVE
    if (rc == SQLITE_OK) rc = sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)0);
#endif
#ifdef SQLITE_DBCONFIG_TRUSTED_SCHEMA
    if (rc == SQLITE_OK) rc = sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)0);
#endif
#ifdef SQLITE_DBCONFIG_ENABLE_TRIGGER
    if (rc == SQLITE_OK) rc = sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, (int *)0);
#endif
#ifdef SQLITE_DBCONFIG_ENABLE_VIEW
    if (rc == SQLITE_OK) rc = sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_VIEW, 0, (int *)0);
#endif
    return rc;
}

/// Reads back defensive mode (1 on, 0 off, -1 unknown), so tests can check the reader really set it.
static inline int plexlab_sqlite_defensive_mode(sqlite3 *db) {
#ifdef SQLITE_DBCONFIG_DEFENSIVE
    int on = -1;
    if (sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, -1, &on) != SQLITE_OK) return -1;
    return on;
#else
    return -1;
#endif
}
