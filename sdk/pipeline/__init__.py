"""Pipelines: ``amlocal.pipeline.core`` (Pipeline, PublishedPipeline, PipelineData ...) and
``amlocal.pipeline.steps`` (PythonScriptStep)."""
