/* queue.c - the work queues between the loop thread and the workers, and the job's
 * release. A queue is a mutex-guarded list: the loop pushes, workers pop and block.
 * Must never look into a job beyond its link, nor call a driver or the journal. */
#include "agent-priv.h"

#include <stdlib.h>
#include <string.h>

#include "json.h"

void
agent_job_free(struct job *j)
{
	if (!j)
		return;
	req_release(&j->req);
	req_spec_view_release(&j->view); /* borrows from spec and image: released first */
	agent_image_release(&j->image);
	json_decref(j->spec);
	if (j->data && j->data_secret)
		hj_wipe_string(json_object_get(j->data, "password"));
	json_decref(j->data);
	json_decref(j->net_body);
	json_decref(j->net_state);
	free(j->entries);
	free(j);
}

void
agent_queue_init(struct queue *q)
{
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
}

void
agent_queue_push(struct queue *q, struct job *j)
{
	pthread_mutex_lock(&q->mu);
	j->next = NULL;
	if (q->tail)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
	q->len++;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

size_t
agent_queue_len(struct queue *q)
{
	size_t n;

	pthread_mutex_lock(&q->mu);
	n = q->len;
	pthread_mutex_unlock(&q->mu);
	return n;
}

struct job *
agent_queue_pop(struct queue *q)
{
	struct job *j;

	pthread_mutex_lock(&q->mu);
	while (!q->head && !q->stopping)
		pthread_cond_wait(&q->cv, &q->mu);
	j = q->head;
	if (j) {
		q->head = j->next;
		if (!q->head)
			q->tail = NULL;
		q->len--;
	}
	pthread_mutex_unlock(&q->mu);
	return j;
}

/* Queued commands never started: they stay "accepted" and restart recovery answers them. */
void
agent_queue_stop(struct queue *q)
{
	struct job *j, *next;

	pthread_mutex_lock(&q->mu);
	q->stopping = true;
	j = q->head;
	q->head = q->tail = NULL;
	q->len = 0;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	for (; j; j = next) {
		next = j->next;
		agent_job_free(j);
	}
}
