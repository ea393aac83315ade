-- smollm-tui results store, schema 1 (evaluation runs), frozen: never edit.
-- Written by the release that shipped schema 1 (engine/results/store.py MIGRATIONS[:1]),
-- with rows of the kinds it stored; `sqlite3 results.db .dump` plus its user_version.
BEGIN TRANSACTION;
CREATE TABLE eval_runs (
        id INTEGER PRIMARY KEY,
        model_id TEXT NOT NULL,
        repo TEXT,
        revision TEXT,
        precision TEXT NOT NULL,
        device TEXT NOT NULL,
        device_name TEXT,
        task TEXT NOT NULL,
        task_version TEXT,
        num_fewshot INTEGER,
        limit_n INTEGER,
        samples INTEGER NOT NULL DEFAULT 0,
        metrics TEXT NOT NULL DEFAULT '{}',
        time_per_sample_ms REAL,
        peak_memory_mb REAL,
        model_size_mb REAL,
        lm_eval_version TEXT,
        transformers_version TEXT,
        torch_version TEXT,
        app_version TEXT,
        started REAL NOT NULL,
        ended REAL NOT NULL,
        status TEXT NOT NULL,
        error TEXT
    );
INSERT INTO "eval_runs" VALUES(1,'pythia-160m','EleutherAI/pythia-160m','50f5173d932e8e61f858120bcb800b97af589f46','fp16','cuda','Orin','arc_easy','1.0',0,100,100,'{"acc": 0.42, "acc_norm": 0.39, "acc_norm_stderr": 0.049, "acc_stderr": 0.0496}',41.5,903.25,324.7,'0.4.9','4.56.2','2.5.0a0+872d972e41.nv24.08','0.1.0',1763900000.0,1763900041.5,'ok',NULL);
INSERT INTO "eval_runs" VALUES(2,'tinyllama-1.1b','TinyLlama/TinyLlama_v1.1',NULL,'fp32','cuda','Orin','piqa','1.0',0,NULL,0,'{}',NULL,NULL,4198.4,'0.4.9','4.56.2','2.5.0a0+872d972e41.nv24.08','0.1.0',1763900100.0,1763900130.0,'oom','CUDA out of memory. Tried to allocate 1.50 GiB');
CREATE INDEX eval_runs_cell ON eval_runs (model_id, task, precision, device);
COMMIT;
PRAGMA user_version=1;
