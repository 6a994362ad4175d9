-- certbound schema, version 2.
--
-- One counter, bumped in the same transaction as every change to `clients`,
-- so an instance that caches client records notices a change made by any
-- other process with one single-row read instead of a read per request.
CREATE TABLE client_generation (
    id         BIGINT NOT NULL PRIMARY KEY,
    generation BIGINT NOT NULL
);

INSERT INTO client_generation (id, generation) VALUES (1, 0);
