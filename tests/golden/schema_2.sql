-- smollm-tui results store, schema 2 (+ where a run came from (imports), and chat speed runs), frozen: never edit.
-- Written by the release that shipped schema 2 (engine/results/store.py MIGRATIONS[:2]),
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
    , source TEXT NOT NULL DEFAULT 'local');
INSERT INTO "eval_runs" VALUES(1,'pythia-160m','EleutherAI/pythia-160m','50f5173d932e8e61f858120bcb800b97af589f46','fp16','cuda','Orin','arc_easy','1.0',0,100,100,'{"acc": 0.42, "acc_norm": 0.39, "acc_norm_stderr": 0.049, "acc_stderr": 0.0496}',41.5,903.25,324.7,'0.4.9','4.56.2','2.5.0a0+872d972e41.nv24.08','0.1.0',1763900000.0,1763900041.5,'ok',NULL,'local');
INSERT INTO "eval_runs" VALUES(2,'tinyllama-1.1b','TinyLlama/TinyLlama_v1.1',NULL,'fp32','cuda','Orin','piqa','1.0',0,NULL,0,'{}',NULL,NULL,4198.4,'0.4.9','4.56.2','2.5.0a0+872d972e41.nv24.08','0.1.0',1763900100.0,1763900130.0,'oom','CUDA out of memory. Tried to allocate 1.50 GiB','local');
INSERT INTO "eval_runs" VALUES(3,'opt-125m','facebook/opt-125m',NULL,'fp32','cuda',NULL,'boolq',NULL,0,NULL,3270,'{"acc": 0.5544, "acc_stderr": 0.0087}',NULL,NULL,NULL,'0.4.8',NULL,NULL,NULL,1763800000.0,1763800900.0,'ok',NULL,'import:results_2025-11-22T10-00-00.json');
CREATE TABLE speed_runs (
        id INTEGER PRIMARY KEY,
        model_id TEXT NOT NULL,
        precision TEXT NOT NULL,
        device TEXT NOT NULL,
        device_name TEXT,
        prompt TEXT,
        prompt_tokens INTEGER NOT NULL,
        new_tokens INTEGER NOT NULL,
        tokens_per_s REAL NOT NULL,
        time_to_first_token_s REAL,
        peak_memory_mb REAL,
        settings TEXT NOT NULL DEFAULT '{}',
        app_version TEXT,
        created REAL NOT NULL
    );
INSERT INTO "speed_runs" VALUES(1,'smollm2-135m-instruct','fp16','cuda','Orin',NULL,38,64,41.5,0.055,612.0,'{"max_new_tokens": 64, "temperature": 0.0}','0.1.0',1763900200.0);
CREATE INDEX eval_runs_cell ON eval_runs (model_id, task, precision, device);
CREATE INDEX speed_runs_model ON speed_runs (model_id, precision, device);
COMMIT;
PRAGMA user_version=2;
