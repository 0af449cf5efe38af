-- broker.db as released with schema version 1 (latchkey-broker). Holds agent
-- ci-bot, capability github-read, session s1 (epoch 3, expires 2096) and
-- an active revocation of agent old-bot (seq 4). Never edit: add
-- schema_vN.sql for a new release. Made with sqlite3 .dump.
BEGIN TRANSACTION;
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
INSERT INTO meta VALUES('configured','1');
INSERT INTO meta VALUES('config_file_sha256','abc');
CREATE TABLE agents (
  name TEXT PRIMARY KEY,
  position INTEGER NOT NULL,
  proto BLOB NOT NULL
);
INSERT INTO agents VALUES('ci-bot',0,X'0a0663692d626f74');
CREATE TABLE capabilities (
  name TEXT PRIMARY KEY,
  position INTEGER NOT NULL,
  proto BLOB NOT NULL
);
INSERT INTO capabilities VALUES('github-read',0,X'0a0b6769746875622d72656164');
CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  agent TEXT NOT NULL,
  epoch INTEGER NOT NULL,
  expire_unix_ns INTEGER NOT NULL,
  revoked INTEGER NOT NULL,
  proto BLOB NOT NULL
);
INSERT INTO sessions VALUES('s1','ci-bot',3,4000000000000000000,0,X'0a027331120663692d626f742a060880d0acf30e');
CREATE TABLE revocations (
  kind INTEGER NOT NULL,
  name TEXT NOT NULL,
  seq INTEGER NOT NULL,
  active INTEGER NOT NULL,
  proto BLOB NOT NULL,
  PRIMARY KEY (kind, name)
);
INSERT INTO revocations VALUES(1,'old-bot',4,1,X'080112076f6c642d626f741801');
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version VALUES(1);
CREATE INDEX sessions_by_expiry ON sessions (expire_unix_ns);
COMMIT;
