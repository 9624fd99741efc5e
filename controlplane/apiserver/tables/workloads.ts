/**
 * Printers for apps/v1 workloads (deployments, replicasets, daemonsets), as
 * kube-apiserver's printers produce them with `Wide: true`.
 */

import {
  ageColumn,
  col,
  containerCells,
  formatLabels,
  formatLabelSelector,
  int,
  nameColumn,
  selectorString,
  since,
  type Obj,
  type Printer,
} from './format.js';

const CONTAINERS_DESC = 'Names of each container in the template.';
const IMAGES_DESC = 'Images referenced by each container in the template.';
const SELECTOR_DESC =
  'Selector is a label query over pods that should match the replica count. Label keys and values that must match in order to be controlled by this replica set. It must match the pod template\'s labels. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors';

/** spec.replicas as the apiserver defaults it (1 when unset). */
const replicas = (obj: Obj): number => (typeof obj.spec?.replicas === 'number' ? obj.spec.replicas : 1);

export const deploymentPrinter: Printer = {
  columns: [
    nameColumn(),
    col('Ready', 'string', 'Number of the pod with ready state'),
    col('Up-to-date', 'string', 'Total number of non-terminated pods targeted by this deployment that have the desired template spec.'),
    col('Available', 'string', 'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.'),
    ageColumn(),
    col('Containers', 'string', CONTAINERS_DESC, 1),
    col('Images', 'string', IMAGES_DESC, 1),
    col('Selector', 'string', 'Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.', 1),
  ],
  row(obj, now) {
    const [names, images] = containerCells(obj.spec?.template?.spec?.containers);
    return {
      cells: [
        obj.metadata?.name ?? '',
        `${int(obj.status?.readyReplicas)}/${replicas(obj)}`,
        int(obj.status?.updatedReplicas),
        int(obj.status?.availableReplicas),
        since(obj.metadata?.creationTimestamp, now),
        names,
        images,
        // The deployment printer uses Selector.String(), which is empty rather than <none>.
        selectorString(obj.spec?.selector),
      ],
    };
  },
};

export const replicaSetPrinter: Printer = {
  columns: [
    nameColumn(),
    col('Desired', 'integer', 'Replicas is the number of desired pods. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1.'),
    col('Current', 'integer', 'Replicas is the most recently observed number of non-terminating pods.'),
    col('Ready', 'integer', 'The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition.'),
    ageColumn(),
    col('Containers', 'string', CONTAINERS_DESC, 1),
    col('Images', 'string', IMAGES_DESC, 1),
    col('Selector', 'string', SELECTOR_DESC, 1),
  ],
  row(obj, now) {
    const [names, images] = containerCells(obj.spec?.template?.spec?.containers);
    return {
      cells: [
        obj.metadata?.name ?? '',
        replicas(obj),
        int(obj.status?.replicas),
        int(obj.status?.readyReplicas),
        since(obj.metadata?.creationTimestamp, now),
        names,
        images,
        formatLabelSelector(obj.spec?.selector),
      ],
    };
  },
};

export const daemonSetPrinter: Printer = {
  columns: [
    nameColumn(),
    col('Desired', 'integer', 'The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod).'),
    col('Current', 'integer', 'The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.'),
    col('Ready', 'integer', 'The number of nodes that should be running the daemon pod and have one or more of the daemon pod running with a Ready Condition.'),
    col('Up-to-date', 'integer', 'The total number of nodes that are running updated daemon pod'),
    col('Available', 'integer', 'The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)'),
    col('Node Selector', 'string', "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which must match a node's labels for the pod to be scheduled on that node. More info: https://kubernetes.io/docs/concepts/configuration/assign-pod-node/"),
    ageColumn(),
    col('Containers', 'string', CONTAINERS_DESC, 1),
    col('Images', 'string', IMAGES_DESC, 1),
    col('Selector', 'string', 'A label query over pods that are managed by the daemon set. Must match in order to be controlled. It must match the pod template\'s labels. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors', 1),
  ],
  row(obj, now) {
    const [names, images] = containerCells(obj.spec?.template?.spec?.containers);
    const s: Obj = obj.status ?? {};
    return {
      cells: [
        obj.metadata?.name ?? '',
        int(s.desiredNumberScheduled),
        int(s.currentNumberScheduled),
        int(s.numberReady),
        int(s.updatedNumberScheduled),
        int(s.numberAvailable),
        formatLabels(obj.spec?.template?.spec?.nodeSelector),
        since(obj.metadata?.creationTimestamp, now),
        names,
        images,
        formatLabelSelector(obj.spec?.selector),
      ],
    };
  },
};
