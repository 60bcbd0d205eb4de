"""The public TensorFlow `omnifold` package (MultiFold) on events written by mlhep: the anchor of
the unfolding benchmark. Runs in its own environment (tensorflow 2.17, keras 3.7, omnifold), not
mlhep's, and imports nothing from mlhep:

    python omnifold_tf.py INPUTS.npz OUTPUT.npz SETTINGS.json

INPUTS.npz: sim_reco, sim_truth (n_sim, d) network inputs (NaN where the level fails), pass_reco,
pass_truth, sim_weight (n_sim,), data_reco (n_data, d), data_weight (n_data,). SETTINGS.json:
iterations, epochs, batch_size, learning_rate, ensemble, hidden, patience, seed, threads.
OUTPUT.npz: weights (n_sim,), the particle-level weights of the last iteration (1 for events
failing truth), and seconds, the wall time of MultiFold.Unfold.
"""

import json
import sys
import tempfile
import time

import numpy as np


def _standardized(values, passing, reference):
    """(values - mean) / std of the reference's passing rows; rows failing are set to 0 (the
    package gives them zero weight, but NaN would still poison the loss)."""
    mean, std = reference.mean(axis=0), reference.std(axis=0) + 1e-12
    out = (values - mean) / std
    out[~passing] = 0.0
    return out.astype(np.float32)


def main(inputs_path, output_path, settings_path):
    settings = json.loads(open(settings_path).read())
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(settings["threads"])
    tf.config.threading.set_inter_op_parallelism_threads(settings["threads"])
    import keras
    from omnifold import MLP, DataLoader, MultiFold

    keras.utils.set_random_seed(settings["seed"])
    events = np.load(inputs_path)
    pass_reco, pass_truth = events["pass_reco"].astype(bool), events["pass_truth"].astype(bool)
    sim_reco, sim_truth, data_reco = events["sim_reco"], events["sim_truth"], events["data_reco"]
    reco_reference = sim_reco[pass_reco]
    mc = DataLoader(
        reco=_standardized(sim_reco, pass_reco, reco_reference),
        gen=_standardized(sim_truth, pass_truth, sim_truth[pass_truth]),
        pass_reco=pass_reco,
        pass_gen=pass_truth,
        weight=events["sim_weight"].astype(np.float32),
        normalize=True,
    )
    data = DataLoader(reco=_standardized(data_reco, np.ones(len(data_reco), bool), reco_reference), weight=events["data_weight"].astype(np.float32), normalize=True)
    d = sim_reco.shape[1]
    with tempfile.TemporaryDirectory() as folder:
        unfolding = MultiFold(
            "mlhep_bench",
            MLP(d, layer_sizes=list(settings["hidden"])),
            MLP(d, layer_sizes=list(settings["hidden"])),
            data,
            mc,
            weights_folder=f"{folder}/weights",
            log_folder=folder,
            niter=settings["iterations"],
            n_ensemble=settings["ensemble"],
            batch_size=settings["batch_size"],
            epochs=settings["epochs"],
            lr=settings["learning_rate"],
            early_stop=settings["patience"],
        )
        start = time.perf_counter()
        unfolding.Unfold()
        seconds = time.perf_counter() - start
    weights = np.where(pass_truth, unfolding.weights_push, 1.0).astype(np.float64)
    np.savez(output_path, weights=weights, seconds=seconds)


if __name__ == "__main__":
    main(*sys.argv[1:4])
