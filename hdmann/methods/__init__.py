"""The methods the studies share: models, training, hypervector memory, embeddings, evaluation
with intervals, saliency, texture features, lesion patches and the plotting style."""
