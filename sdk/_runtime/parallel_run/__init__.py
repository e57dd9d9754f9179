"""The ParallelRunStep driver that runs inside a step (Azure's service-side ``amlbi_main``).

- :mod:`.settings`: the driver's argv (Azure's) as a frozen :class:`~.settings.JobSettings`.
- :mod:`.batches`: the inputs split into mini-batches (files, table slices, partitions).
- :mod:`.nodes`: THE seam that decides which worker runs which mini-batch
  (:class:`~.nodes.LocalNodes`: every node on this machine, or one copy's node on a cluster).
- :mod:`.ranks`: the copies a cluster starts share the mini-batches, limits and output.
- :mod:`.worker`: one worker process: imports the entry script, ``init()`` once, ``run()`` per
  mini-batch.
- :mod:`.progress`: counting, the failure limits, the output file and the logs layout.
- :mod:`.entry_script`: ``azureml_user.parallel_run.EntryScript`` for entry scripts.
- :mod:`.driver`: ``main(argv)``, tying them together.
"""
